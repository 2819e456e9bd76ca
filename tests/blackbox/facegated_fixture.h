// FacegatedUnderTest: the real facegated binary in a temporary directory of its own, bound to
// loopback port 0, for black-box scenarios.
//
// The configuration starts as a small loopback set-up (device and admin listeners, enrollment
// off, data_dir "data" and ports_file "ports.json", both relative to the config file) and
// can be changed through config() before Start(). Start() writes it, starts the daemon and
// waits (bounded) until the ports file written after binding names the new process; the
// bound ports and the generated CA are then known. Each run logs to its own file.
// Thread-safety: none; use from the test's thread.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "facegate/core/status.h"
#include "testing/process.h"
#include "testing/temp_dir.h"
#include "testing/tls_client.h"

namespace facegate::testing {

// BinaryDir()/src/app/facegated.
std::filesystem::path FacegatedBinary();

// Calls `done` every `interval` until it returns true or `timeout` has passed; returns the
// last answer. Black-box tests wait for effects this way instead of sleeping a fixed time.
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(20));

// Writes `text` to `path` at once (write to path.new, then rename), as an admin's tool would.
void WriteFileForTest(const std::filesystem::path& path, const std::string& text);
std::string ReadFileForTest(const std::filesystem::path& path);
// The permission bits of `path` (07777 mask), or (mode_t)-1 when it cannot be stat'ed.
mode_t ModeOf(const std::filesystem::path& path);

class FacegatedUnderTest {
 public:
  FacegatedUnderTest();
  FacegatedUnderTest(const FacegatedUnderTest&) = delete;
  FacegatedUnderTest& operator=(const FacegatedUnderTest&) = delete;

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path config_path() const { return dir() / "facegate.json"; }
  std::filesystem::path data_dir() const { return dir() / "data"; }
  std::filesystem::path pki_dir() const { return data_dir() / "pki"; }
  std::filesystem::path ports_file() const { return dir() / "ports.json"; }

  // What Start() and WriteConfig() write; change it before them.
  nlohmann::json& config() { return config_; }
  // Environment variables Start() and Run() add to the daemon's.
  std::map<std::string, std::string>& env() { return env_; }
  // A command Start() runs the daemon through (e.g. a wrapper that applies a sandbox setting,
  // then execs the rest of its arguments): the pid stays the daemon's. Empty: none.
  std::vector<std::string>& launcher() { return launcher_; }
  // The log file the next Start() or Run() writes (tests may create it first, e.g. to learn
  // its inode).
  std::filesystem::path NextLogFile() const;
  void WriteConfig() const;

  // Writes the config, starts `facegated --config <file>` and waits up to `timeout` for the
  // ports file naming the new process. On failure the message includes the daemon's log.
  Status Start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Sends `signo` and waits up to `timeout` for the exit.
  std::optional<ExitStatus> Stop(int signo = SIGTERM,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Runs facegated to completion with `args` (e.g. {"--init", "--config", path}).
  Result<ProcessResult> Run(const std::vector<std::string>& args,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20));

  ChildProcess& process() { return process_; }
  // The output of the daemon Start() started last (Run() returns its own).
  std::string log() const { return process_.ReadLog(); }
  // Polls log() until it contains `text`.
  bool WaitForLog(const std::string& text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  uint16_t port(const std::string& listener) const;
  uint16_t device_port() const { return port("device"); }
  uint16_t admin_port() const { return port("admin"); }

  // The daemon's local CA (data_dir/pki/ca.crt).
  std::string ca_pem() const;
  // Options that verify the server's chain against ca_pem() (no host name: the daemon is
  // known by IP, and SAN checks are done by the tests that care).
  TlsClientOptions VerifyingClientOptions() const;
  Result<std::unique_ptr<TlsClient>> Connect(uint16_t port) const;
  Result<std::unique_ptr<TlsClient>> Connect(uint16_t port, const TlsClientOptions& options) const;

 private:
  TempDir dir_;
  nlohmann::json config_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> launcher_;
  ChildProcess process_;
  int runs_ = 0;
  std::map<std::string, uint16_t> ports_;
};

}  // namespace facegate::testing
