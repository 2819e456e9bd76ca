// StoreOptions: where the database and the template keys live and how SQLite is run.
// Read from the "store" section of the configuration file (docs/store.md lists the keys).
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "facegate/core/config.h"

namespace facegate::store {

enum class StartupCheck {
  kQuick,  // PRAGMA quick_check: O(size), catches damaged pages and b-trees (the default)
  kFull,   // PRAGMA integrity_check: also checks that indexes match their tables
  kOff,    // none (tests and benchmarks of huge databases only)
};

enum class KeySource {
  kDirectory,           // key files in key_dir (by default <data_dir>/keys), created on --init
  kSystemdCredentials,  // key files in $CREDENTIALS_DIRECTORY (LoadCredential= in the unit)
};

struct StoreOptions {
  // The database file; empty means <data_dir>/facegate.db (ApplyDataDirDefaults).
  std::filesystem::path db_file;
  // Directory holding template.key (key 1) and template.<N>.key (key N); empty means
  // <data_dir>/keys. Ignored with KeySource::kSystemdCredentials.
  std::filesystem::path key_dir;
  KeySource key_source = KeySource::kDirectory;
  StartupCheck startup_check = StartupCheck::kQuick;
  // How long a writer waits for another connection's lock (e.g. facegatectl on the same host).
  int busy_timeout_ms = 5000;
  // Group commit: at most this many access events share one transaction (one fsync).
  int event_batch_max = 256;
  // The WAL file is truncated back to this size after a checkpoint.
  int64_t wal_size_limit_bytes = 64LL << 20;
  // Create the database when it does not exist. The daemon's --init does; normal start-up
  // also does, since a missing database is a fresh installation (the key decides access).
  bool create_if_missing = true;

  // Not from the configuration file: the SQLite VFS to open the database with (tests use a
  // fault-injecting one); empty is SQLite's default.
  std::string sqlite_vfs;
};

// Fills `options` from `section` ("store"); `options` arrives holding the defaults.
void ParseStoreOptions(ConfigSection& section, StoreOptions* options);

// Fills the empty paths from the data directory; resolves the systemd credentials directory
// when key_source says so (an error when $CREDENTIALS_DIRECTORY is not set).
Status ApplyDataDirDefaults(const std::filesystem::path& data_dir, StoreOptions* options);

}  // namespace facegate::store
