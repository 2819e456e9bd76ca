// `facegatectl store ...`: the template store worked on directly (status, backup, restore, key
// rotation, integrity check), on the daemon's host, as the daemon's user. The paths come from
// the daemon's own configuration file (LoadDaemonOptions), so the command and the daemon can
// never disagree about which database and which keys they mean.
//
// Results go to stdout (text, or one JSON document with --json); progress, warnings and errors
// to stderr. Nothing printed ever contains template values or key bytes: keys are named by id
// and file, templates are counted.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ctl_common.h"
#include "facegate/core/clock.h"
#include "facegate/core/status.h"
#include "facegate/daemon/options.h"
#include "facegate/face/matching.h"
#include "facegate/store/keyring.h"
#include "facegate/store/options.h"
#include "facegate/store/store.h"

namespace facegate::app {
namespace {

using ctl::kFailure;
using ctl::kHelpShown;
using ctl::kOk;
using ctl::kUsage;

constexpr const char* kDefaultConfig = "/etc/facegate/facegate.json";

constexpr const char* kStoreHelp =
    "Usage: facegatectl store COMMAND [ARGS] [--config FILE] [--json]\n"
    "\n"
    "Works on the template store directly (run it on the daemon's host, as the daemon's\n"
    "user). The database and key paths come from the facegated configuration file.\n"
    "\n"
    "Commands:\n"
    "  status            schema version, size, counts, keys, rotation, re-enrollment\n"
    "  backup FILE       online backup of the database (the keys are never in it)\n"
    "  restore FILE      put a backup in place of the database (facegated stopped)\n"
    "  rotate-key        add a template key and re-encrypt every template with it\n"
    "  check             full integrity check of the database and of every template\n"
    "\n"
    "Run 'facegatectl store COMMAND --help' for a command's options.\n";

constexpr const char* kStatusHelp =
    "Usage: facegatectl store status [--config FILE] [--json]\n"
    "\n"
    "Prints the database file, its size and schema version, the number of users and face\n"
    "templates, the template keys (and which is current), the key rotation's progress and\n"
    "how many templates need re-enrollment (made by another model version).\n"
    "\n"
    "Options:\n"
    "  --config FILE   facegated configuration file (default /etc/facegate/facegate.json)\n"
    "  --json          one JSON document on stdout\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 printed, 1 the store could not be opened, 2 usage error.\n";

constexpr const char* kBackupHelp =
    "Usage: facegatectl store backup FILE [--config FILE] [--json]\n"
    "\n"
    "Writes a consistent copy of the database to FILE while facegated keeps serving\n"
    "(FILE.partial first, checked and synced, then renamed). FILE must not exist yet.\n"
    "The template keys are never in a backup: the command prints which key files the\n"
    "backup needs. Back those up too, apart from it (another medium, another access list).\n"
    "\n"
    "Options:\n"
    "  --config FILE   facegated configuration file (default /etc/facegate/facegate.json)\n"
    "  --json          the result as one JSON document on stdout\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 backup written, 1 failure, 2 usage error.\n";

constexpr const char* kRestoreHelp =
    "Usage: facegatectl store restore FILE [--yes] [--config FILE] [--json]\n"
    "\n"
    "Puts the backup FILE in place of the database. facegated must be stopped\n"
    "(systemctl stop facegated): the command refuses while the ports file named in the\n"
    "configuration (server.ports_file) names a live facegated. The current database and its\n"
    "-wal/-shm files are moved aside as <db>.before-restore-<unix time> (nothing is deleted).\n"
    "Put the key files the backup needs into the key directory first; the command says which\n"
    "are missing and checks the ones present against the restored database.\n"
    "\n"
    "Options:\n"
    "  --yes           proceed without asking (required when stdin is not a terminal)\n"
    "  --config FILE   facegated configuration file (default /etc/facegate/facegate.json)\n"
    "  --json          the result as one JSON document on stdout\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 restored and the keys match, 1 failure (or restored but a key file is\n"
    "missing or wrong: the message says what to do), 2 usage error or --yes missing.\n";

constexpr const char* kRotateHelp =
    "Usage: facegatectl store rotate-key [--batch N] [--max-batches N] [--status]\n"
    "                                    [--config FILE] [--json]\n"
    "\n"
    "Adds a new template key (template.<N>.key, 0600) and re-encrypts every template with it,\n"
    "N templates per transaction. When a rotation is already in progress (an earlier run was\n"
    "interrupted), no key is added: the run continues it. Progress is kept in the database, so\n"
    "an interrupted run loses at most one batch. When no template uses an old key any more,\n"
    "that key is marked retired; keep its file as long as a backup that needs it is kept.\n"
    "Online: when facegated is running (its server.ports_file names it), the key is added\n"
    "here and facegated is sent SIGHUP: it takes the key up at once and re-encrypts in the\n"
    "background while it serves; --status follows the progress.\n"
    "\n"
    "Options:\n"
    "  --batch N        templates re-encrypted per transaction (default 256)\n"
    "  --max-batches N  stop after N batches, leaving the rest for the next run (for tests\n"
    "                   and for spreading a long rotation over maintenance windows)\n"
    "  --status         only print the rotation's progress\n"
    "  --config FILE    facegated configuration file (default /etc/facegate/facegate.json)\n"
    "  --json           the result as one JSON document on stdout\n"
    "  -h, --help       show this help\n"
    "\n"
    "Exit status: 0 done (or stopped at --max-batches), 1 failure or interrupted (run again\n"
    "to continue), 2 usage error.\n";

constexpr const char* kCheckHelp =
    "Usage: facegatectl store check [--config FILE] [--json]\n"
    "\n"
    "Opens the store with the full check (PRAGMA integrity_check and foreign_key_check), checks\n"
    "the key files against the database, then decrypts and authenticates every template of the\n"
    "current model version (templates of other versions are counted, not decrypted). Holds\n"
    "the decrypted templates in memory meanwhile (512 bytes each).\n"
    "\n"
    "Options:\n"
    "  --config FILE   facegated configuration file (default /etc/facegate/facegate.json)\n"
    "  --json          the result as one JSON document on stdout\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 everything checked is sound, 1 a problem was found or the store could\n"
    "not be opened, 2 usage error.\n";

struct StoreArgs {
  bool json = false;
  bool yes = false;
  bool status_only = false;
  int batch = 256;
  int max_batches = -1;
  std::filesystem::path config = kDefaultConfig;
  std::vector<std::string> positional;
};

// Which options a subcommand accepts besides --config, --json and --help.
struct Accepts {
  bool yes = false;
  bool rotation = false;  // --batch, --max-batches, --status
};

bool ParsePositiveInt(const char* text, int* out) {
  const std::string_view s(text);
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 1) return false;
  *out = v;
  return true;
}

// Parses the arguments after the subcommand. Returns kOk to go on, or the exit code.
int ParseArgs(int argc, char** argv, const char* cmd, Accepts accepts, const char* help,
              StoreArgs* out) {
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "facegatectl store %s: %s needs a value\n", cmd, name);
        return nullptr;
      }
      return argv[++i];
    };
    auto count = [&](const char* name, int* target) -> bool {
      const char* v = value(name);
      if (!v) return false;
      if (!ParsePositiveInt(v, target)) {
        std::fprintf(stderr, "facegatectl store %s: %s: expected a positive integer, got '%s'\n",
                     cmd, name, v);
        return false;
      }
      return true;
    };
    if (a == "-h" || a == "--help") {
      std::fputs(help, stdout);
      return kHelpShown;
    } else if (a == "--json") {
      out->json = true;
    } else if (a == "--config" || a == "-c") {
      const char* v = value("--config");
      if (!v) return kUsage;
      out->config = v;
    } else if (accepts.yes && a == "--yes") {
      out->yes = true;
    } else if (accepts.rotation && a == "--batch") {
      if (!count("--batch", &out->batch)) return kUsage;
    } else if (accepts.rotation && a == "--max-batches") {
      if (!count("--max-batches", &out->max_batches)) return kUsage;
    } else if (accepts.rotation && a == "--status") {
      out->status_only = true;
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "facegatectl store %s: unknown option %s\n\n%s", cmd, a.c_str(), help);
      return kUsage;
    } else {
      out->positional.push_back(a);
    }
  }
  return kOk;
}

// Checks the number of positional arguments; prints the usage error.
bool ExpectPositional(const StoreArgs& args, size_t n, const char* cmd, const char* what,
                      const char* help) {
  if (args.positional.size() == n) return true;
  if (args.positional.size() < n) {
    std::fprintf(stderr, "facegatectl store %s: %s\n\n%s", cmd, what, help);
  } else {
    std::fprintf(stderr, "facegatectl store %s: unexpected argument '%s'\n\n%s", cmd,
                 args.positional[n].c_str(), help);
  }
  return false;
}

int Fail(const char* cmd, const Status& status) {
  std::fprintf(stderr, "facegatectl store %s: %s\n", cmd, status.message().c_str());
  return kFailure;
}

// The store's own log lines (e.g. "key rotation started") go to stderr, warnings and worse
// only, so that stdout carries nothing but the result.
void QuietStoreLogging() {
  auto logger = spdlog::stderr_color_mt("facegatectl");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::warn);
}

Result<daemon::DaemonOptions> LoadConfig(const StoreArgs& args) {
  auto o = daemon::LoadDaemonOptions(args.config);
  if (!o.ok()) {
    std::string m = o.status().message();
    if (m.find("CREDENTIALS_DIRECTORY") != std::string::npos) {
      m += " (for facegatectl, set CREDENTIALS_DIRECTORY to a directory holding the same key "
           "files the unit loads)";
    }
    return Status(o.status().code(), m);
  }
  return o;
}

// What every subcommand starts with: its arguments, then the daemon's configuration.
// Returns the exit code to stop with, or nothing to go on.
std::optional<int> Begin(int argc, char** argv, const char* cmd, Accepts accepts, const char* help,
                         size_t positional, const char* missing, StoreArgs* args,
                         daemon::DaemonOptions* options) {
  int rc = ParseArgs(argc, argv, cmd, accepts, help, args);
  if (rc == kHelpShown) return kOk;
  if (rc != kOk) return rc;
  if (!ExpectPositional(*args, positional, cmd, missing, help)) return kUsage;
  auto o = LoadConfig(*args);
  if (!o.ok()) return Fail(cmd, o.status());
  *options = std::move(o).value();
  return std::nullopt;
}

Result<std::unique_ptr<store::Store>> OpenStore(store::StoreOptions so) {
  // facegatectl never creates a database: a missing one means a wrong config or a host where
  // facegated --init has not run, and an empty new file would hide that.
  so.create_if_missing = false;
  auto opened = store::Store::Open(so, SystemClock::Instance());
  if (!opened.ok()) {
    if (opened.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(opened.status().message() +
                              " (check store.file and data_dir in the configuration, or run "
                              "facegated --init on a new installation)");
    }
    return opened.status();
  }
  return opened;
}

int64_t FileSize(const std::filesystem::path& p) {
  std::error_code ec;
  auto size = std::filesystem::file_size(p, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

std::filesystem::path WithSuffix(const std::filesystem::path& p, const char* suffix) {
  std::filesystem::path out = p;
  out += suffix;
  return out;
}

Result<int64_t> CountUsers(store::Store& s) {
  int64_t n = 0, after = 0;
  for (;;) {
    auto page = s.ListUsers(after, 1000);
    if (!page.ok()) return page.status();
    if (page->empty()) return n;
    n += static_cast<int64_t>(page->size());
    after = page->back().id;
  }
}

nlohmann::json ProgressJson(const store::KeyRotationProgress& p) {
  return {{"target_key_id", p.target_key_id},
          {"reencrypted", p.reencrypted},
          {"remaining", p.remaining},
          {"done", p.done}};
}

std::string KeyFile(const store::StoreOptions& so, uint32_t id) {
  return (so.key_dir / store::Keyring::KeyFileName(id)).string();
}

// ---------------------------------------------------------------- is facegated running?

struct LiveDaemon {
  int pid = 0;
  std::filesystem::path ports_file;
};

// The daemon writes {"pid": N, ...} to server.ports_file once its listeners are bound and
// removes it at a clean exit; after a crash the file stays, so the pid is checked for life
// and, where /proc says, for being a facegated (a reused pid is not a daemon).
Result<std::optional<LiveDaemon>> FindLiveDaemon(const daemon::DaemonOptions& o) {
  const auto& file = o.server.ports_file;
  if (file.empty()) return std::optional<LiveDaemon>();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::optional<LiveDaemon>();
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  int pid = 0;
  try {
    pid = nlohmann::json::parse(text.str()).at("pid").get<int>();
  } catch (const std::exception& e) {
    return Status::FailedPrecondition("cannot tell whether facegated is running: the ports file " +
                                      file.string() + " is unreadable (" + e.what() +
                                      "); stop facegated and remove the file");
  }
  if (pid <= 0) return std::optional<LiveDaemon>();
  if (::kill(pid, 0) != 0 && errno == ESRCH) return std::optional<LiveDaemon>();
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  if (comm && std::getline(comm, name) && name.rfind("facegated", 0) != 0) {
    return std::optional<LiveDaemon>();
  }
  return std::optional<LiveDaemon>(LiveDaemon{pid, file});
}

// Refuses (FailedPrecondition) when facegated is running; warns when it cannot tell.
Status RequireDaemonStopped(const daemon::DaemonOptions& o, const char* cmd, const char* why) {
  if (o.server.ports_file.empty()) {
    std::fprintf(stderr,
                 "facegatectl store %s: warning: %s sets no server.ports_file, so whether "
                 "facegated is running cannot be checked: make sure it is stopped\n",
                 cmd, o.config_file.string().c_str());
    return Status::Ok();
  }
  auto live = FindLiveDaemon(o);
  if (!live.ok()) return live.status();
  if (!*live) return Status::Ok();
  return Status::FailedPrecondition("facegated is running (pid " + std::to_string((*live)->pid) +
                                    ", from " + (*live)->ports_file.string() + "); " + why +
                                    ". Stop it first (systemctl stop facegated), then run this "
                                    "again and start it");
}

// Files this command creates must belong to the daemon's user, or the daemon cannot read them
// (a key file or a database written by root is 0600 root).
Status RequireOwnerOf(const std::filesystem::path& path) {
  struct stat st {};
  std::filesystem::path p = path;
  if (::stat(p.c_str(), &st) != 0) {
    p = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
    if (::stat(p.c_str(), &st) != 0) return Status::Ok();  // the store reports the path
  }
  if (st.st_uid == ::geteuid()) return Status::Ok();
  return Status::PermissionDenied(
      p.string() + " belongs to uid " + std::to_string(st.st_uid) + " but this runs as uid " +
      std::to_string(::geteuid()) +
      ": files created now would be unreadable to facegated. Run it as the daemon's user, e.g. "
      "sudo -u facegate facegatectl store ...");
}

// ---------------------------------------------------------------- status

int ShowStatus(int argc, char** argv) {
  StoreArgs args;
  daemon::DaemonOptions o;
  if (auto rc = Begin(argc, argv, "status", {}, kStatusHelp, 0, "", &args, &o)) return *rc;
  const store::StoreOptions& so = o.store;
  auto s = OpenStore(so);
  if (!s.ok()) return Fail("status", s.status());
  auto ring = store::Keyring::Load(so.key_dir);
  if (!ring.ok()) return Fail("status", ring.status());
  auto users = CountUsers(**s);
  if (!users.ok()) return Fail("status", users.status());
  auto templates = (*s)->CountTemplates();
  if (!templates.ok()) return Fail("status", templates.status());
  auto stale = (*s)->ListTemplatesForReEnrollment(face::kModelVersion);
  if (!stale.ok()) return Fail("status", stale.status());
  auto rotation = (*s)->KeyRotationStatus();
  if (!rotation.ok()) return Fail("status", rotation.status());

  const int64_t bytes = FileSize(so.db_file);
  const int64_t wal_bytes = FileSize(WithSuffix(so.db_file, "-wal"));
  const std::vector<uint32_t> key_ids = ring->ids();
  const uint32_t current = ring->current() ? ring->current()->id() : 0;
  if (args.json) {
    nlohmann::json keys = nlohmann::json::array();
    for (uint32_t id : key_ids) {
      keys.push_back({{"id", id}, {"file", KeyFile(so, id)}, {"current", id == current}});
    }
    nlohmann::json out = {
        {"db_file", so.db_file.string()},
        {"schema_version", store::CurrentSchemaVersion()},
        {"bytes", bytes},
        {"wal_bytes", wal_bytes},
        {"users", *users},
        {"templates", *templates},
        {"model_version", face::kModelVersion},
        {"templates_needing_reenrollment", stale->size()},
        {"key_dir", so.key_dir.string()},
        {"keys", keys},
        {"current_key_id", current},
        {"key_rotation", ProgressJson(*rotation)},
    };
    std::printf("%s\n", out.dump(2).c_str());
    return kOk;
  }
  std::printf("database        %s\n", so.db_file.string().c_str());
  std::printf("size            %lld bytes (+ %lld bytes of WAL)\n", static_cast<long long>(bytes),
              static_cast<long long>(wal_bytes));
  std::printf("schema version  %d\n", store::CurrentSchemaVersion());
  std::printf("users           %lld\n", static_cast<long long>(*users));
  std::printf("templates       %lld\n", static_cast<long long>(*templates));
  std::printf("re-enrollment   %zu template(s) from a model other than %s\n", stale->size(),
              std::string(face::kModelVersion).c_str());
  std::string ids;
  for (uint32_t id : key_ids) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
  std::printf("keys            %s (current: %u) in %s\n", ids.c_str(), current,
              so.key_dir.string().c_str());
  if (rotation->done) {
    std::printf("key rotation    none in progress (every template uses key %u)\n",
                rotation->target_key_id);
  } else {
    std::printf(
        "key rotation    to key %u in progress: %lld re-encrypted, %lld remaining "
        "(facegatectl store rotate-key continues it)\n",
        rotation->target_key_id, static_cast<long long>(rotation->reencrypted),
        static_cast<long long>(rotation->remaining));
  }
  return kOk;
}

// ---------------------------------------------------------------- backup

int Backup(int argc, char** argv) {
  StoreArgs args;
  daemon::DaemonOptions o;
  if (auto rc =
          Begin(argc, argv, "backup", {}, kBackupHelp, 1, "no backup file given", &args, &o)) {
    return *rc;
  }
  // Absolute, so that what is printed still names the file when read elsewhere (cron mail).
  std::error_code ec;
  std::filesystem::path file = std::filesystem::absolute(args.positional[0], ec);
  if (ec) file = args.positional[0];
  if (std::filesystem::exists(file, ec)) {
    return Fail("backup", Status::AlreadyExists(file.string() +
                                                " already exists: choose another name (backups "
                                                "are never overwritten)"));
  }
  const store::StoreOptions& so = o.store;
  auto s = OpenStore(so);
  if (!s.ok()) return Fail("backup", s.status());
  std::fprintf(stderr, "backing up %s to %s ...\n", so.db_file.string().c_str(),
               file.string().c_str());
  auto info = (*s)->Backup(file);
  if (!info.ok()) return Fail("backup", info.status());
  std::fprintf(stderr,
               "backup written: %lld bytes, schema version %d, %lld users, %lld templates\n",
               static_cast<long long>(info->bytes), info->schema_version,
               static_cast<long long>(info->users), static_cast<long long>(info->templates));

  if (args.json) {
    nlohmann::json keys = nlohmann::json::array();
    for (uint32_t id : info->key_ids) keys.push_back({{"id", id}, {"file", KeyFile(so, id)}});
    nlohmann::json out = {{"file", info->file},
                          {"bytes", info->bytes},
                          {"schema_version", info->schema_version},
                          {"users", info->users},
                          {"templates", info->templates},
                          {"key_files_needed", keys}};
    std::printf("%s\n", out.dump(2).c_str());
    return kOk;
  }
  std::printf("%s\n", info->file.c_str());
  if (info->key_ids.empty()) {
    std::printf("The backup holds no template, so it needs no key file.\n");
  } else {
    std::printf(
        "The backup does not contain the template keys. To restore it you need these key\n"
        "files; keep copies of them apart from the backup (another medium, another access "
        "list):\n");
    for (uint32_t id : info->key_ids) {
      std::printf("  key %u: %s\n", id, KeyFile(so, id).c_str());
    }
  }
  return kOk;
}

// ---------------------------------------------------------------- restore

// The newest <db>.before-restore-* file RestoreBackup left (empty when none).
std::filesystem::path MovedAsideDatabase(const std::filesystem::path& db_file) {
  const std::string prefix = db_file.filename().string() + ".before-restore-";
  std::filesystem::path dir = db_file.has_parent_path() ? db_file.parent_path() : ".";
  std::filesystem::path best;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    if (name.size() > 4 && (name.ends_with("-wal") || name.ends_with("-shm"))) continue;
    if (best.empty() || name > best.filename().string()) best = entry.path();
  }
  return best;
}

bool Confirm(const std::filesystem::path& backup, const store::StoreOptions& so) {
  std::fprintf(stderr,
               "This replaces %s with the backup %s\n"
               "(the current database is moved aside, not deleted). Type 'yes' to go on: ",
               so.db_file.string().c_str(), backup.string().c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "yes";
}

int Restore(int argc, char** argv) {
  StoreArgs args;
  Accepts accepts;
  accepts.yes = true;
  daemon::DaemonOptions o;
  if (auto rc = Begin(argc, argv, "restore", accepts, kRestoreHelp, 1, "no backup file given",
                      &args, &o)) {
    return *rc;
  }
  const std::filesystem::path backup = args.positional[0];
  const store::StoreOptions& so = o.store;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(backup, ec)) {
    return Fail("restore", Status::NotFound("the backup " + backup.string() + " does not exist"));
  }
  if (Status st = RequireDaemonStopped(o, "restore",
                                       "it holds the database open and would keep serving the "
                                       "old one");
      !st.ok()) {
    return Fail("restore", st);
  }
  if (Status st = RequireOwnerOf(so.db_file); !st.ok()) return Fail("restore", st);
  if (!args.yes) {
    if (!::isatty(STDIN_FILENO)) {
      std::fprintf(stderr,
                   "facegatectl store restore: this replaces %s with %s (the current database is "
                   "moved aside as %s.before-restore-<unix time>). Run again with --yes to do "
                   "it.\n",
                   so.db_file.string().c_str(), backup.string().c_str(),
                   so.db_file.string().c_str());
      return kUsage;
    }
    if (!Confirm(backup, so)) {
      std::fprintf(stderr, "facegatectl store restore: not confirmed; nothing changed\n");
      return kFailure;
    }
  }

  std::fprintf(stderr, "checking and installing %s ...\n", backup.string().c_str());
  auto info = store::RestoreBackup(backup, so.db_file);
  if (!info.ok()) return Fail("restore", info.status());
  const std::filesystem::path aside = MovedAsideDatabase(so.db_file);
  std::fprintf(stderr, "restored: schema version %d, %lld users, %lld templates%s%s\n",
               info->schema_version, static_cast<long long>(info->users),
               static_cast<long long>(info->templates),
               aside.empty() ? "" : "; the previous database is now ", aside.string().c_str());

  // The keys are not in the backup: say which are missing, then let the store check the ones
  // present against the restored database exactly as facegated's start-up will.
  std::vector<uint32_t> present;
  if (auto ring = store::Keyring::Load(so.key_dir); ring.ok()) present = ring->ids();
  std::vector<uint32_t> missing;
  for (uint32_t id : info->key_ids) {
    if (std::find(present.begin(), present.end(), id) == present.end()) missing.push_back(id);
  }
  std::string problem;
  if (!missing.empty()) {
    problem = "the restored database needs key file(s) missing from " + so.key_dir.string() + ":";
    for (uint32_t id : missing) problem += " " + KeyFile(so, id);
    problem +=
        ". Put them back (mode 0600, owned by the daemon's user) before starting facegated; do "
        "not run facegated --init, it would create a different key";
  } else {
    store::StoreOptions check = so;
    check.startup_check = store::StartupCheck::kOff;  // RestoreBackup has just checked it all
    auto opened = OpenStore(check);
    if (!opened.ok()) problem = opened.status().message();
  }

  if (args.json) {
    nlohmann::json needed = nlohmann::json::array();
    for (uint32_t id : info->key_ids) {
      needed.push_back(
          {{"id", id},
           {"file", KeyFile(so, id)},
           {"present", std::find(missing.begin(), missing.end(), id) == missing.end()}});
    }
    nlohmann::json out = {{"db_file", so.db_file.string()},
                          {"restored_from", backup.string()},
                          {"previous_database", aside.string()},
                          {"schema_version", info->schema_version},
                          {"users", info->users},
                          {"templates", info->templates},
                          {"key_files_needed", needed},
                          {"ready", problem.empty()}};
    if (!problem.empty()) out["problem"] = problem;
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s restored from %s\n", so.db_file.string().c_str(), backup.string().c_str());
  }
  if (!problem.empty()) {
    std::fprintf(stderr, "facegatectl store restore: restored, but facegated will not start: %s\n",
                 problem.c_str());
    return kFailure;
  }
  if (!args.json) std::printf("The keys match; start facegated (systemctl start facegated).\n");
  return kOk;
}

// ---------------------------------------------------------------- rotate-key

std::atomic<bool> g_interrupted{false};

extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

// SIGINT/SIGTERM finish the batch in flight (its transaction) and stop between batches, so
// that the message printed says exactly where the rotation stands.
void CatchInterrupts() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

class ProgressReporter {
 public:
  explicit ProgressReporter(uint32_t key_id) : key_id_(key_id), tty_(::isatty(STDERR_FILENO)) {}

  void Update(const store::KeyRotationProgress& p) {
    const int64_t total = p.reencrypted + p.remaining;
    const double fraction = total > 0 ? static_cast<double>(p.reencrypted) / total : 1.0;
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(fraction * kWidth);
      std::fprintf(stderr, "\rkey %u [%s%s] %3d%% %lld/%lld templates", key_id_,
                   std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                   static_cast<int>(fraction * 100), static_cast<long long>(p.reencrypted),
                   static_cast<long long>(total));
      line_open_ = true;
    } else {
      std::fprintf(stderr, "key rotation to key %u: %lld of %lld templates re-encrypted\n", key_id_,
                   static_cast<long long>(p.reencrypted), static_cast<long long>(total));
    }
    std::fflush(stderr);
  }
  void Finish() {
    if (line_open_) std::fputc('\n', stderr);
    line_open_ = false;
  }

 private:
  uint32_t key_id_;
  bool tty_;
  bool line_open_ = false;
};

void PrintRotation(const StoreArgs& args, const store::KeyRotationProgress& p,
                   const store::StoreOptions& so, bool added, const char* stopped) {
  if (args.json) {
    nlohmann::json out = ProgressJson(p);
    out["key_file"] = KeyFile(so, p.target_key_id);
    out["key_added"] = added;
    if (stopped) out["stopped"] = stopped;
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  if (p.done) {
    std::printf("key rotation to key %u: done, every template uses it (%lld re-encrypted)\n",
                p.target_key_id, static_cast<long long>(p.reencrypted));
  } else {
    std::printf("key rotation to key %u: %lld re-encrypted, %lld remaining%s%s\n", p.target_key_id,
                static_cast<long long>(p.reencrypted), static_cast<long long>(p.remaining),
                stopped ? "; " : "", stopped ? stopped : "");
  }
}

int RotateKey(int argc, char** argv) {
  StoreArgs args;
  Accepts accepts;
  accepts.rotation = true;
  daemon::DaemonOptions o;
  if (auto rc = Begin(argc, argv, "rotate-key", accepts, kRotateHelp, 0, "", &args, &o)) {
    return *rc;
  }
  const store::StoreOptions& so = o.store;
  std::optional<LiveDaemon> daemon_running;
  if (!args.status_only) {
    if (Status st = RequireOwnerOf(so.key_dir); !st.ok()) return Fail("rotate-key", st);
    if (!o.server.ports_file.empty()) {
      auto live = FindLiveDaemon(o);
      if (!live.ok()) return Fail("rotate-key", live.status());
      daemon_running = *live;
    }
  }
  auto s = OpenStore(so);
  if (!s.ok()) return Fail("rotate-key", s.status());
  auto progress = (*s)->KeyRotationStatus();
  if (!progress.ok()) return Fail("rotate-key", progress.status());
  if (args.status_only) {
    PrintRotation(args, *progress, so, false, nullptr);
    return kOk;
  }

  bool added = false;
  uint32_t target_key_id = progress->target_key_id;
  if (progress->done) {
    auto id = (*s)->AddKey();
    if (!id.ok()) return Fail("rotate-key", id.status());
    added = true;
    target_key_id = *id;
    std::fprintf(stderr, "new template key %u: %s (back it up apart from the database backups)\n",
                 *id, KeyFile(so, *id).c_str());
  } else {
    std::fprintf(stderr,
                 "continuing the key rotation to key %u: %lld re-encrypted, %lld remaining\n",
                 progress->target_key_id, static_cast<long long>(progress->reencrypted),
                 static_cast<long long>(progress->remaining));
  }

  if (daemon_running) {
    // Online: the running daemon re-reads the key directory on SIGHUP, writes new templates
    // with the new key from then on and re-encrypts the others in the background. Doing it
    // here instead would race with templates the daemon still writes under the old key.
    if (::kill(daemon_running->pid, SIGHUP) != 0) {
      return Fail("rotate-key", Status::PermissionDenied("cannot signal facegated (pid " +
                                                         std::to_string(daemon_running->pid) +
                                                         "): " + std::strerror(errno)));
    }
    auto now = (*s)->KeyRotationStatus();
    if (now.ok()) progress = now;
    PrintRotation(args, *progress, so, added,
                  "handed to the running facegated, which re-encrypts in the background; "
                  "follow it with 'facegatectl store rotate-key --status'");
    return kOk;
  }

  CatchInterrupts();
  store::KeyRotationOptions ro;
  ro.batch_size = args.batch;
  ro.max_batches = 1;  // one batch per call: progress is shown between batches
  ProgressReporter reporter(target_key_id);
  store::KeyRotationProgress p;
  const char* stopped = nullptr;
  for (int batch = 0;; ++batch) {
    if (args.max_batches > 0 && batch >= args.max_batches) {
      stopped = "stopped after --max-batches; run again to continue";
      break;
    }
    if (g_interrupted.load()) {
      stopped = "interrupted; run again to continue";
      break;
    }
    auto r = (*s)->RotateKey(ro);
    if (!r.ok()) {
      reporter.Finish();
      return Fail("rotate-key", r.status().WithContext("the rotation stopped (run again to "
                                                       "continue once fixed)"));
    }
    p = *r;
    reporter.Update(p);
    if (p.done) break;
  }
  reporter.Finish();
  if (p.done) {
    // A batch that re-encrypted the last templates reports done before the finishing pass,
    // which marks the unused keys retired: run that pass (it re-encrypts nothing).
    ro.max_batches = -1;
    auto r = (*s)->RotateKey(ro);
    if (!r.ok()) return Fail("rotate-key", r.status());
    p = *r;
  } else {
    auto r = (*s)->KeyRotationStatus();
    if (r.ok()) p = *r;
  }
  PrintRotation(args, p, so, added, stopped);
  if (p.done && !args.json) {
    std::printf(
        "Older keys no template uses are marked retired; keep their files as long as a backup "
        "that needs them is kept.\n");
  }
  return g_interrupted.load() ? kFailure : kOk;
}

// ---------------------------------------------------------------- check

int Check(int argc, char** argv) {
  StoreArgs args;
  daemon::DaemonOptions o;
  if (auto rc = Begin(argc, argv, "check", {}, kCheckHelp, 0, "", &args, &o)) return *rc;
  store::StoreOptions so = o.store;
  so.startup_check = store::StartupCheck::kFull;
  auto report = [&](bool ok, const std::string& message, int64_t authenticated, int64_t other) {
    if (args.json) {
      nlohmann::json out = {{"db_file", so.db_file.string()}, {"ok", ok}};
      if (ok) {
        out["templates_authenticated"] = authenticated;
        out["templates_of_other_models"] = other;
      } else {
        out["problem"] = message;
      }
      std::printf("%s\n", out.dump(2).c_str());
    }
    if (!ok) {
      std::fprintf(stderr, "facegatectl store check: %s\n", message.c_str());
      return kFailure;
    }
    if (!args.json) {
      std::printf(
          "%s: OK (integrity_check, foreign_key_check, template keys; %lld templates of %s "
          "decrypted and authenticated, %lld of other model versions not decrypted)\n",
          so.db_file.string().c_str(), static_cast<long long>(authenticated),
          std::string(face::kModelVersion).c_str(), static_cast<long long>(other));
    }
    return kOk;
  };
  std::fprintf(stderr, "checking %s ...\n", so.db_file.string().c_str());
  auto s = OpenStore(so);
  if (!s.ok()) return report(false, s.status().message(), 0, 0);
  auto matrix = (*s)->LoadTemplatesForIndex(face::kModelVersion);
  if (!matrix.ok()) return report(false, matrix.status().message(), 0, 0);
  const auto authenticated = static_cast<int64_t>(matrix->size());
  std::fill(matrix->values.begin(), matrix->values.end(), 0.0f);  // no plaintext left behind
  auto other = (*s)->ListTemplatesForReEnrollment(face::kModelVersion);
  if (!other.ok()) return report(false, other.status().message(), 0, 0);
  return report(true, "", authenticated, static_cast<int64_t>(other->size()));
}

}  // namespace

// argv[0] is the first argument after "store".
int RunStoreCommand(int argc, char** argv) {
  const std::string cmd = argc > 0 ? argv[0] : "";
  if (cmd == "-h" || cmd == "--help") {
    std::fputs(kStoreHelp, stdout);
    return kOk;
  }
  int (*run)(int, char**) = nullptr;
  if (cmd == "status") run = ShowStatus;
  if (cmd == "backup") run = Backup;
  if (cmd == "restore") run = Restore;
  if (cmd == "rotate-key") run = RotateKey;
  if (cmd == "check") run = Check;
  if (run == nullptr) {
    if (cmd.empty()) {
      std::fputs(kStoreHelp, stderr);
    } else {
      std::fprintf(stderr, "facegatectl store: unknown command '%s'\n\n%s", cmd.c_str(),
                   kStoreHelp);
    }
    return kUsage;
  }
  QuietStoreLogging();
  return run(argc - 1, argv + 1);
}

}  // namespace facegate::app
