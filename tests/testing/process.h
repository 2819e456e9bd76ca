// ChildProcess: a program under test run as a child of the test, for black-box scenarios that
// start the real daemon binary and talk to it from outside.
//
// The child's stdout and stderr go (appended) to one log file the test reads back; stdin is
// /dev/null. The child gets the test's environment without NOTIFY_SOCKET and JOURNAL_STREAM
// (a daemon under test must never talk to the systemd that may be running the tests), plus
// the additions given to Start. It runs in its own process group with default signal
// dispositions and an empty signal mask, whatever the test runner set.
// A child still running when the object is destroyed is killed (SIGKILL) and reaped, so a
// failing test never leaves a daemon behind.
// Thread-safety: none; use one object from one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "facegate/core/status.h"

namespace facegate::testing {

// How a child ended.
struct ExitStatus {
  int code = -1;   // the exit code when it exited normally; -1 when a signal ended it
  int signal = 0;  // the signal that ended it; 0 when it exited normally

  bool exited_normally() const { return signal == 0; }
  std::string ToString() const;  // "exit code 2", "killed by signal 9 (Killed)"
};

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (a path, not looked up in $PATH) with `argv`, writing its output to
  // `log_file`. `env` entries are added to (or replace) the inherited environment. Fails when
  // a child is already running or the program cannot be started.
  Status Start(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
               const std::map<std::string, std::string>& env = {});

  pid_t pid() const { return pid_; }
  // True from a successful Start until the exit has been collected by WaitForExit.
  bool running() const { return pid_ > 0; }
  const std::filesystem::path& log_file() const { return log_file_; }

  // Sends `signo` to the child. False when there is no running child or kill() failed.
  bool Signal(int signo);

  // Polls (every 10 ms) for the child's exit for up to `timeout`. Returns how it ended, or
  // nothing when it is still running (or was never started). Once collected, the status is
  // remembered and returned again by later calls.
  std::optional<ExitStatus> WaitForExit(std::chrono::milliseconds timeout);

  // SIGKILL and reap; no-op when not running.
  void Kill();

  // The whole log file so far ("" when it does not exist).
  std::string ReadLog() const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_file_;
  std::optional<ExitStatus> exit_status_;
};

// Runs a program to completion (bounded by `timeout`; a child still running then is killed)
// and returns how it ended together with its output (stdout and stderr interleaved).
struct ProcessResult {
  std::optional<ExitStatus> exit;  // nothing when it had to be killed at the timeout
  std::string output;
};
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const std::filesystem::path& log_file,
                                 std::chrono::milliseconds timeout,
                                 const std::map<std::string, std::string>& env = {});

}  // namespace facegate::testing
