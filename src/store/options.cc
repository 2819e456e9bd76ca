#include "facegate/store/options.h"

#include <cstdlib>

namespace facegate::store {

void ParseStoreOptions(ConfigSection& section, StoreOptions* o) {
  section.GetPath("file", &o->db_file);
  section.GetPath("key_dir", &o->key_dir);

  std::string key_source =
      o->key_source == KeySource::kDirectory ? "directory" : "systemd-credentials";
  section.GetEnum("key_source", &key_source, {"directory", "systemd-credentials"});
  o->key_source =
      key_source == "directory" ? KeySource::kDirectory : KeySource::kSystemdCredentials;
  if (o->key_source == KeySource::kSystemdCredentials && !o->key_dir.empty()) {
    section.Error("key_dir",
                  "key_dir and key_source \"systemd-credentials\" exclude each other "
                  "(the keys are read from $CREDENTIALS_DIRECTORY)");
  }

  std::string check = o->startup_check == StartupCheck::kQuick  ? "quick"
                      : o->startup_check == StartupCheck::kFull ? "full"
                                                                : "off";
  section.GetEnum("startup_check", &check, {"quick", "full", "off"});
  o->startup_check = check == "quick"  ? StartupCheck::kQuick
                     : check == "full" ? StartupCheck::kFull
                                       : StartupCheck::kOff;

  section.Get("busy_timeout_ms", &o->busy_timeout_ms, 0, 600000);
  section.Get("event_batch_max", &o->event_batch_max, 1, 10000);
  section.Get("wal_size_limit_bytes", &o->wal_size_limit_bytes, 0, int64_t{1} << 40);
}

Status ApplyDataDirDefaults(const std::filesystem::path& data_dir, StoreOptions* o) {
  if (o->db_file.empty()) o->db_file = data_dir / "facegate.db";
  if (o->key_source == KeySource::kSystemdCredentials) {
    const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
    if (dir == nullptr || *dir == '\0') {
      return Status::FailedPrecondition(
          "store.key_source is \"systemd-credentials\" but $CREDENTIALS_DIRECTORY is not set: "
          "add LoadCredential=template.key:/path/to/template.key to the facegated unit");
    }
    o->key_dir = dir;
  } else if (o->key_dir.empty()) {
    o->key_dir = data_dir / "keys";
  }
  return Status::Ok();
}

}  // namespace facegate::store
