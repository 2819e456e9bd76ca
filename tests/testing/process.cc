#include "testing/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace facegate::testing {
namespace {

// Inherited variables a child under test must not see.
const std::set<std::string> kDroppedEnvironment = {"NOTIFY_SOCKET", "JOURNAL_STREAM"};

std::string VariableName(const char* entry) {
  const char* eq = std::strchr(entry, '=');
  return eq ? std::string(entry, eq) : std::string(entry);
}

ExitStatus FromWaitStatus(int status) {
  ExitStatus out;
  if (WIFEXITED(status)) {
    out.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
  }
  return out;
}

// Owns the posix_spawn attribute objects so every return path releases them.
struct SpawnSetup {
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
};

}  // namespace

std::string ExitStatus::ToString() const {
  if (signal != 0) {
    return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  }
  return "exit code " + std::to_string(code);
}

ChildProcess::~ChildProcess() { Kill(); }

Status ChildProcess::Start(const std::vector<std::string>& argv,
                           const std::filesystem::path& log_file,
                           const std::map<std::string, std::string>& env) {
  if (running()) return Status::FailedPrecondition("a child is already running");
  if (argv.empty()) return Status::InvalidArgument("no program to start");

  // Everything the child needs is built before the spawn: nothing is allocated in between.
  std::vector<std::string> env_entries;
  for (char** e = environ; e && *e; ++e) {
    std::string name = VariableName(*e);
    if (kDroppedEnvironment.count(name) || env.count(name)) continue;
    env_entries.emplace_back(*e);
  }
  for (const auto& [name, value] : env) env_entries.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& e : env_entries) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return Status::IOError("cannot open " + log_file.string() + ": " + std::strerror(errno));
  }

  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, log_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, log_fd, STDERR_FILENO);
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
  // Sockets the test holds (clients of an earlier daemon) must not leak into the child.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
#endif
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, s);
  }
  posix_spawnattr_setsigmask(&setup.attributes, &empty_mask);
  posix_spawnattr_setsigdefault(&setup.attributes, &defaults);
  posix_spawnattr_setpgroup(&setup.attributes, 0);
  posix_spawnattr_setflags(&setup.attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  pid_t pid = -1;
  int rc =
      ::posix_spawn(&pid, argp[0], &setup.actions, &setup.attributes, argp.data(), envp.data());
  ::close(log_fd);
  if (rc != 0) {
    return Status::IOError("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  pid_ = pid;
  log_file_ = log_file;
  exit_status_.reset();
  return Status::Ok();
}

bool ChildProcess::Signal(int signo) { return running() && ::kill(pid_, signo) == 0; }

std::optional<ExitStatus> ChildProcess::WaitForExit(std::chrono::milliseconds timeout) {
  if (exit_status_) return exit_status_;
  if (!running()) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = FromWaitStatus(status);
      pid_ = -1;
      return exit_status_;
    }
    if (r < 0 && errno != EINTR) {
      // Not our child any more (someone else reaped it): nothing left to wait for.
      pid_ = -1;
      exit_status_ = ExitStatus{};
      return exit_status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void ChildProcess::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  exit_status_ = r == pid_ ? FromWaitStatus(status) : ExitStatus{};
  pid_ = -1;
}

std::string ChildProcess::ReadLog() const {
  if (log_file_.empty()) return {};
  std::ifstream in(log_file_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const std::filesystem::path& log_file,
                                 std::chrono::milliseconds timeout,
                                 const std::map<std::string, std::string>& env) {
  ChildProcess child;
  FACEGATE_RETURN_IF_ERROR(child.Start(argv, log_file, env));
  ProcessResult result;
  result.exit = child.WaitForExit(timeout);
  if (!result.exit) child.Kill();
  result.output = child.ReadLog();
  return result;
}

}  // namespace facegate::testing
