#include "testing/notify_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace facegate::testing {

NotifySocket::~NotifySocket() {
  if (fd_ >= 0) ::close(fd_);
  if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

Status NotifySocket::Bind(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path.string();
  if (p.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument("notify socket path too long (" + std::to_string(p.size()) +
                                   " bytes): " + p);
  }
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::IOError("bind " + p + ": " + std::strerror(errno));
  }
  path_ = path;
  return Status::Ok();
}

std::optional<std::string> NotifySocket::Receive(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return std::nullopt;
  pollfd pfd{fd_, POLLIN, 0};
  const int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (ready <= 0) return std::nullopt;
  char buf[4096];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  std::string message(buf, static_cast<size_t>(n));
  seen_.push_back(message);
  return message;
}

std::optional<std::string> NotifySocket::WaitFor(const std::string& assignment,
                                                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto message = Receive(left);
    if (!message) return std::nullopt;
    if (HasAssignment(*message, assignment)) return message;
  }
}

bool HasAssignment(const std::string& message, const std::string& assignment) {
  std::istringstream in(message);
  for (std::string line; std::getline(in, line);) {
    if (line == assignment) return true;
  }
  return false;
}

}  // namespace facegate::testing
