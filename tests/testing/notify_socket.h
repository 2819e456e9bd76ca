// NotifySocket: a test-owned stand-in for systemd's notification socket (NOTIFY_SOCKET), so
// the sd_notify protocol of the daemon under test (READY=1, WATCHDOG=1, RELOADING=1,
// STOPPING=1) is checked without systemd: systemd is not PID 1 on the test machines.
// A Unix datagram socket bound at a path the test chooses; each datagram is one message of
// newline-separated KEY=VALUE assignments, as systemd reads them.
// Thread-safety: none; use one object from one thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "facegate/core/status.h"

namespace facegate::testing {

class NotifySocket {
 public:
  NotifySocket() = default;
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // Binds at `path` (at most 107 bytes; an existing file there is replaced).
  Status Bind(const std::filesystem::path& path);
  const std::filesystem::path& path() const { return path_; }

  // The next message, or nothing when none came within `timeout`.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout);
  // Receives until a message has the line `assignment` (e.g. "READY=1") and returns that
  // message; nothing at the timeout. Every message received on the way is kept in seen().
  std::optional<std::string> WaitFor(const std::string& assignment,
                                     std::chrono::milliseconds timeout);
  const std::vector<std::string>& seen() const { return seen_; }

 private:
  int fd_ = -1;
  std::filesystem::path path_;
  std::vector<std::string> seen_;
};

// True when `message` has `assignment` as one of its lines.
bool HasAssignment(const std::string& message, const std::string& assignment);

}  // namespace facegate::testing
