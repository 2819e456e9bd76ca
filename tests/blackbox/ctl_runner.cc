#include "blackbox/ctl_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "blackbox/facegated_fixture.h"

extern char** environ;

namespace facegate::testing {

std::filesystem::path CtlBinary() { return BinaryDir() / "src" / "app" / "facegatectl"; }

CtlResult RunCtl(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  static int runs = 0;
  ++runs;
  const auto out_file = dir / ("ctl-" + std::to_string(runs) + ".out");
  const auto err_file = dir / ("ctl-" + std::to_string(runs) + ".err");
  std::vector<std::string> argv = {CtlBinary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  CtlResult result;
  if (rc != 0) {
    result.err = "posix_spawn failed: " + std::string(std::strerror(rc));
    return result;
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (status != -1 && WIFEXITED(status)) result.code = WEXITSTATUS(status);
  result.out = ReadFileForTest(out_file);
  result.err = ReadFileForTest(err_file);
  return result;
}

std::string Describe(const CtlResult& r) {
  return "exit " + std::to_string(r.code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

}  // namespace facegate::testing
