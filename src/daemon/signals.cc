#include "signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

namespace facegate::daemon {
namespace {

std::atomic<unsigned> g_flags{0};
int g_pipe[2] = {-1, -1};

void OnSignal(int signo) {
  int saved_errno = errno;
  RaiseSignalFlags(signo == SIGHUP ? kSignalReload : kSignalStop);
  errno = saved_errno;
}

}  // namespace

void RaiseSignalFlags(unsigned flags) {
  g_flags.fetch_or(flags);
  if (g_pipe[1] >= 0) {
    char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(g_pipe[1], &byte, 1);  // full pipe: already woken
  }
}

void InstallSignalHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe[0] = g_pipe[1] = -1;
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, nullptr);
  });
}

unsigned WaitForSignals(std::chrono::milliseconds timeout) {
  unsigned flags = g_flags.exchange(0);
  if (flags != 0 || g_pipe[0] < 0) return flags;
  struct pollfd pfd {
    g_pipe[0], POLLIN, 0
  };
  ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  char drain[64];
  while (::read(g_pipe[0], drain, sizeof drain) > 0) {
  }
  return g_flags.exchange(0);
}

}  // namespace facegate::daemon
