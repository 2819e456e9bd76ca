#include "blackbox/facegated_fixture.h"

#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace facegate::testing {

std::filesystem::path FacegatedBinary() { return BinaryDir() / "src" / "app" / "facegated"; }

bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

void WriteFileForTest(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path temp = path;
  temp += ".new";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + temp.string());
  }
  std::filesystem::rename(temp, path);
}

std::string ReadFileForTest(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

mode_t ModeOf(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return static_cast<mode_t>(-1);
  return st.st_mode & 07777;
}

FacegatedUnderTest::FacegatedUnderTest() {
  // A daemon that dies under a test must fail that test, not kill the test binary when the
  // next TLS write hits the closed socket (children get SIGPIPE back at its default).
  ::signal(SIGPIPE, SIG_IGN);
  config_ = nlohmann::json::parse(R"({
    "data_dir": "data",
    "log": { "level": "info", "format": "text" },
    "server": { "io_threads": 2, "drain_timeout_ms": 2000, "ports_file": "ports.json" },
    "tls": { "server_addresses": ["127.0.0.1"] },
    "listeners": {
      "device": { "address": "127.0.0.1", "port": 0 },
      "admin": { "address": "127.0.0.1", "port": 0 },
      "enrollment": { "enabled": false }
    },
    "face": { "enabled": false }
  })");
}

void FacegatedUnderTest::WriteConfig() const {
  WriteFileForTest(config_path(), config_.dump(2) + "\n");
}

Status FacegatedUnderTest::Start(std::chrono::milliseconds timeout) {
  if (process_.running()) return Status::FailedPrecondition("facegated is already running");
  WriteConfig();
  // A ports file left by an earlier run names a dead process and old ports.
  std::error_code ec;
  std::filesystem::remove(ports_file(), ec);
  ports_.clear();
  auto log_file = NextLogFile();
  ++runs_;
  std::vector<std::string> argv = launcher_;
  argv.insert(argv.end(), {FacegatedBinary().string(), "--config", config_path().string()});
  FACEGATE_RETURN_IF_ERROR(process_.Start(argv, log_file, env_));

  std::string last_problem = "no ports file yet";
  bool ready = PollUntil(
      [&] {
        if (process_.WaitForExit(std::chrono::milliseconds(0))) return true;
        if (!std::filesystem::exists(ports_file())) return false;
        try {
          auto doc = nlohmann::json::parse(ReadFileForTest(ports_file()));
          if (doc.at("pid").get<int>() != process_.pid()) {
            last_problem = "the ports file names pid " + doc.at("pid").dump();
            return false;
          }
          for (const auto& [name, value] : doc.at("ports").items()) {
            ports_[name] = value.get<uint16_t>();
          }
          return true;
        } catch (const std::exception& e) {
          // The file is renamed into place whole; a parse error here is a daemon bug.
          last_problem = std::string("unreadable ports file: ") + e.what();
          return false;
        }
      },
      timeout);
  if (auto exit = process_.WaitForExit(std::chrono::milliseconds(0))) {
    return Status::Unavailable("facegated exited during start-up (" + exit->ToString() +
                               "); log:\n" + log());
  }
  if (!ready) {
    return Status::DeadlineExceeded("facegated not ready within " +
                                    std::to_string(timeout.count()) + " ms (" + last_problem +
                                    "); log:\n" + log());
  }
  return Status::Ok();
}

std::optional<ExitStatus> FacegatedUnderTest::Stop(int signo, std::chrono::milliseconds timeout) {
  process_.Signal(signo);
  return process_.WaitForExit(timeout);
}

Result<ProcessResult> FacegatedUnderTest::Run(const std::vector<std::string>& args,
                                              std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {FacegatedBinary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto log_file = NextLogFile();
  ++runs_;
  return RunProcess(argv, log_file, timeout, env_);
}

std::filesystem::path FacegatedUnderTest::NextLogFile() const {
  return dir() / ("facegated-" + std::to_string(runs_ + 1) + ".log");
}

bool FacegatedUnderTest::WaitForLog(const std::string& text,
                                    std::chrono::milliseconds timeout) const {
  return PollUntil([&] { return log().find(text) != std::string::npos; }, timeout);
}

uint16_t FacegatedUnderTest::port(const std::string& listener) const {
  auto it = ports_.find(listener);
  return it == ports_.end() ? 0 : it->second;
}

std::string FacegatedUnderTest::ca_pem() const { return ReadFileForTest(pki_dir() / "ca.crt"); }

TlsClientOptions FacegatedUnderTest::VerifyingClientOptions() const {
  TlsClientOptions options;
  options.ca_pem = ca_pem();
  return options;
}

Result<std::unique_ptr<TlsClient>> FacegatedUnderTest::Connect(uint16_t p) const {
  return Connect(p, VerifyingClientOptions());
}

Result<std::unique_ptr<TlsClient>> FacegatedUnderTest::Connect(
    uint16_t p, const TlsClientOptions& options) const {
  return TlsClient::Connect("127.0.0.1", p, options);
}

}  // namespace facegate::testing
