// Helpers shared by the facegatectl commands: argument parsing with the common options
// (--config, --json, --help), the daemon's configuration, the store opened as facegated opens
// it (for the commands that work on this host's files: `store ...`, `token create
// --bootstrap`), and the exit codes every command uses (0 done, 1 failure, 2 usage error, and
// for the commands that talk to the admin API 3 unreachable, 4 denied, 5 not found, 6
// conflict). Site administration goes through the admin API (ctl_client.h); the local store
// commands run as the daemon's user.
// Thread-safety: none needed; one command per process.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/clock.h"
#include "facegate/core/status.h"
#include "facegate/daemon/options.h"
#include "facegate/store/store.h"

namespace facegate::app::ctl {

inline constexpr int kOk = 0, kFailure = 1, kUsage = 2;
// The commands that talk to facegated's admin API (ctl_client.h) add: the daemon cannot be
// reached (connection, TLS, timeout), the token is refused (401/403), not found (404), conflict
// (409).
inline constexpr int kUnreachable = 3, kDenied = 4, kNotFound = 5, kConflict = 6;
inline constexpr int kHelpShown = -1;  // ParseArgs: --help printed, exit 0
inline constexpr const char* kDefaultConfigFile = "/etc/facegate/facegate.json";

struct Args {
  std::filesystem::path config = kDefaultConfigFile;
  bool json = false;
  std::set<std::string, std::less<>> flags;                             // options without a value
  std::map<std::string, std::vector<std::string>, std::less<>> values;  // in the order given
  std::vector<std::string> positional;

  bool Has(std::string_view name) const { return flags.count(name) || values.count(name); }
  // The last value given for `name` (a repeated single-valued option: the last one wins).
  std::optional<std::string> Value(std::string_view name) const;
  std::vector<std::string> Values(std::string_view name) const;
};

// Parses a subcommand's arguments. `prog` names the command in messages ("facegatectl user
// add"); `flags` and `valued` list the options it takes besides --config/-c, --json and
// -h/--help. "--" ends the options (for an external id that starts with '-').
// Returns kOk to go on, kHelpShown, or kUsage (the message and the usage printed).
int ParseArgs(int argc, char** argv, std::string_view prog, const char* help,
              std::initializer_list<std::string_view> flags,
              std::initializer_list<std::string_view> valued, Args* out);

// Checks the number of positional arguments (min..max); prints the usage error.
bool ExpectPositional(const Args& args, size_t min, size_t max, std::string_view prog,
                      std::string_view what_is_missing, const char* help);

// Prints "<prog>: <message>" (and the usage when given) to stderr; returns kUsage.
int UsageError(std::string_view prog, std::string_view message, const char* help = nullptr);
// Prints "<prog>: <status message>" to stderr; returns kFailure.
int Fail(std::string_view prog, const Status& status);

// Log lines of the libraries go to stderr, warnings and worse only: stdout carries nothing
// but the result.
void QuietLogging();

// The daemon's configuration file, read as facegated reads it.
Result<daemon::DaemonOptions> LoadConfig(const std::filesystem::path& file);

// The store as facegated opens it, but never created: a missing database means a wrong
// configuration or a host where facegated --init has not run.
Result<std::unique_ptr<store::Store>> OpenStore(const daemon::DaemonOptions& options);

// The configuration and the store opened from it.
struct StoreSession {
  daemon::DaemonOptions options;
  std::unique_ptr<store::Store> store;
};
Result<StoreSession> OpenStoreSession(const std::filesystem::path& config_file);

// Look-ups by external id whose NotFound names what was asked for.
Result<store::Door> FindDoor(store::Store& s, std::string_view external_id);

// Prints rows under a header line, columns padded to their widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// "2026-12-01T08:00:00.000Z", or `none` when unset.
std::string TimeText(const std::optional<Clock::WallTime>& t, std::string_view none = "-");

// Confirmation for what cannot be undone: `yes` given, or asked on a terminal. Without a
// terminal and without --yes it explains (`what`) and returns kUsage; declined: kFailure.
// kOk: go on.
int Confirm(std::string_view prog, std::string_view what, bool yes);

// Strict parsers for option values.
std::optional<int64_t> ParseInt(std::string_view text, int64_t min, int64_t max);
std::optional<double> ParseDouble(std::string_view text);

}  // namespace facegate::app::ctl
