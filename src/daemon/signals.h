// Signals to flags: the handlers only set an atomic flag and write one byte to a self-pipe;
// the main loop waits on the pipe and acts. Private to the daemon.
#pragma once

#include <chrono>

namespace facegate::daemon {

enum SignalFlags : unsigned {
  kSignalNone = 0,
  kSignalStop = 1u << 0,    // SIGTERM, SIGINT
  kSignalReload = 1u << 1,  // SIGHUP
};

// Installs the handlers (once per process) and ignores SIGPIPE.
void InstallSignalHandlers();

// Waits up to `timeout` for a signal; returns and clears the flags that were raised.
unsigned WaitForSignals(std::chrono::milliseconds timeout);

// Raises flags as if a signal had arrived (async-signal-safe).
void RaiseSignalFlags(unsigned flags);

}  // namespace facegate::daemon
