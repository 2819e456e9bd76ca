// The facegated process: owns the configuration, the data directory, the local CA, the
// listeners and the I/O threads, and turns signals into actions.
//
// Lifecycle: Create -> Initialize (data dir, keys, CA, certificates) -> Start (bind, serve,
// READY=1) -> RunUntilStopped (SIGHUP reloads, SIGTERM/SIGINT drains) -> destructor.
// Thread-safety: call the lifecycle methods from one thread (main).
#pragma once

#include <memory>
#include <string>

#include "facegate/core/clock.h"
#include "facegate/core/status.h"
#include "facegate/daemon/options.h"

namespace facegate::daemon {

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> Create(DaemonOptions options, const Clock& clock);
  ~Daemon();

  // Creates what is missing in the data directory: its folders with tight modes, the
  // template encryption key, the database, the local CA and the server certificate. Idempotent.
  Status Initialize();

  // Creates the first admin token when no active one exists and returns it (to be shown once);
  // returns an empty string when there is one already. Only its hash is stored.
  Result<std::string> CreateFirstAdminToken();

  // Binds every enabled listener and starts serving; then writes the ports file, marks the
  // daemon ready and tells systemd READY=1.
  Status Start();

  // Blocks until SIGTERM or SIGINT (or RequestStop), handling SIGHUP reloads meanwhile; then
  // drains. Returns the process exit code.
  int RunUntilStopped();

  // Asks RunUntilStopped to return; safe from any thread and from signal handlers.
  static void RequestStop();

  // Re-reads the config file: log level and TLS certificates take effect at once; other
  // changes are logged as needing a restart.
  Status Reload();

  // The port a listener is bound to (0 when disabled or not started).
  uint16_t bound_port(const std::string& listener) const;

  struct Impl;

 private:
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `facegated` command line: --config FILE, --init, --check-config, --version, --help.
int DaemonMain(int argc, char** argv);

}  // namespace facegate::daemon
