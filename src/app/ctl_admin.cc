// `facegatectl event|integration|status|audit|export`: reading and running the site through
// the admin API of a running facegated (docs/admin-api.md): access events (listed, or exported
// as CSV), integrations, the daemon's summary, the audit log, and an export of the users,
// groups and rights as one JSON document (never template values).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ctl_api_command.h"
#include "ctl_common.h"
#include "ctl_output.h"
#include "facegate/core/time_format.h"

namespace facegate::app {
namespace {

using ctl::ApiCommand;
using ctl::Download;
using ctl::kFailure;
using ctl::kOk;
using ctl::kUsage;
using ctl::Output;
using ctl::PrintJson;
using ctl::Quoted;
using ctl::Str;
using ctl::UrlEncode;
using json = nlohmann::json;

#define FG_CONN "[--json] [--url URL] [--token-file FILE] [--ca FILE]"
#define FG_EVENT_FILTERS                                                              \
  "  --from T, --until T  RFC 3339 times: only events from T (inclusive) / until T\n" \
  "  --door D          only this door's (external id)\n"                              \
  "  --user U          only this user's (external id of an existing user)\n"          \
  "  --device NAME     only this terminal's\n"                                        \
  "  --decision grant|deny\n"                                                         \
  "  --reason R        only this reason (e.g. no_match, outside_schedule, user_banned)\n"

constexpr const char* kEventHelp = "Usage: facegatectl event COMMAND [FILTERS] " FG_CONN
                                   "\n"
                                   "\n"
                                   "Access events, newest first.\n"
                                   "\n"
                                   "Commands:\n"
                                   "  list      the events, as a table or JSON\n"
                                   "  export    the events as CSV (to stdout or --output FILE)\n"
                                   "\n"
                                   "Run 'facegatectl event COMMAND --help' for the filters.\n";

constexpr const char* kEventListHelp =
    "Usage: facegatectl event list [--from T] [--until T] [--door D] [--user U] [--device NAME]\n"
    "                              [--decision grant|deny] [--reason R] [--limit N] " FG_CONN
    "\n"
    "\n"
    "Access events, newest first (GET /api/v1/events, paged through): id, time, door,\n"
    "device, user, decision, reason, distance, latency.\n"
    "\n"
    "Options:\n" FG_EVENT_FILTERS
    "  --limit N         at most N events (default 100; 0: all)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed (e.g. a bad filter), 2 usage error, " FG_API_EXIT
    "5 an\nunknown door, user or device.\n";

constexpr const char* kEventExportHelp =
    "Usage: facegatectl event export [--from T] [--until T] [--door D] [--user U]\n"
    "                                [--device NAME] [--decision grant|deny] [--reason R]\n"
    "                                [--output FILE] " FG_CONN
    "\n"
    "\n"
    "Every event matching the filters as CSV (GET /api/v1/events.csv): id, time, door,\n"
    "device_id, user, decision, reason, distance, latency_ms, repeat. Cells a spreadsheet\n"
    "would run as formulas are quoted with a leading '. The export is audited.\n"
    "\n"
    "Options:\n" FG_EVENT_FILTERS
    "  --output FILE     write to FILE (mode 0600; FILE.partial until complete) instead of\n"
    "                    stdout\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 exported, 1 failed, 2 usage error, " FG_API_EXIT
    "5 an unknown door, user\nor device.\n";

constexpr const char* kIntegrationHelp =
    "Usage: facegatectl integration list " FG_CONN
    "\n"
    "       facegatectl integration show NAME " FG_CONN
    "\n"
    "       facegatectl integration set NAME [--enable|--disable] [--setting KEY=VALUE]...\n"
    "                                        " FG_CONN
    "\n"
    "       facegatectl integration status " FG_CONN
    "\n"
    "       facegatectl integration space sync " FG_CONN
    "\n"
    "       facegatectl integration space reset-key [--yes] " FG_CONN
    "\n"
    "\n"
    "The integrations this build knows (space: Salto Space over SHIP; connect: the vendor\n"
    "cloud link; enrollment: self-enrollment), with their settings and status. Secret\n"
    "settings (keys containing key, password or secret) are shown as \"(set)\" only.\n"
    "\n"
    "set (an admin token) changes what is given: --enable / --disable, and each --setting\n"
    "KEY=VALUE (VALUE is parsed as JSON when it is a JSON number, true, false, an object or\n"
    "an array, else taken as a string; KEY= with nothing removes the setting). An integration\n"
    "is enabled only when its required settings are set (space: url; connect: host;\n"
    "enrollment: company_name, privacy_policy_url); space's settings are checked as a whole\n"
    "(docs/ship.md), each bad one named.\n"
    "\n"
    "status: every integration's status (connected, unauthorized, disconnected, no_status)\n"
    "and last error. space sync (an operator token): a full sync with Salto Space now.\n"
    "space reset-key (an admin token): a new SHIP API key, shown once; enter it in Salto\n"
    "Space (the old one stops working for Facegate's calls at once).\n"
    "\n"
    "Options:\n"
    "  --yes             reset-key without asking (required when stdin is not a terminal)\n"
    "  --enable, --disable\n"
    "  --setting KEY=VALUE   repeat for more\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 done, 1 refused (a required setting missing) or failed, 2 usage "
    "error,\n" FG_API_EXIT "5 no such integration.\n";

constexpr const char* kStatusHelp =
    "Usage: facegatectl status " FG_CONN
    "\n"
    "\n"
    "The daemon's summary (GET /api/v1/system): version, uptime, counts of users, templates,\n"
    "events, doors and devices (online), the face model and security level, and the\n"
    "in-memory index. Also a quick check that the URL, the CA and the token work.\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 shown, 1 failed, 2 usage error, " FG_API_EXIT_LAST;

constexpr const char* kAuditHelp =
    "Usage: facegatectl audit list [--action A] [--actor X] [--from T] [--until T] [--limit N]\n"
    "                              " FG_CONN
    "\n"
    "\n"
    "The audit log, newest first (GET /api/v1/audit, an admin token): every change through\n"
    "the API and every refused request: time, actor (token:NAME), address, action, target,\n"
    "outcome, details.\n"
    "\n"
    "Options:\n"
    "  --action A        only this action (e.g. user.create, token.revoke)\n"
    "  --actor X         only this actor (e.g. token:ops)\n"
    "  --from T, --until T   RFC 3339 times\n"
    "  --limit N         at most N rows (default 100; 0: all)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed, 2 usage error, " FG_API_EXIT_LAST;

constexpr const char* kExportHelp =
    "Usage: facegatectl export [--output FILE] [--with-templates] " FG_CONN
    "\n"
    "\n"
    "The site's users, groups (with their members) and rights as one JSON document:\n"
    "{\"exported_at\", \"users\", \"groups\", \"rights\", \"templates\"}, read page by page\n"
    "through the API (a viewer token). Face templates are biometric data and are left out\n"
    "unless --with-templates is given with an admin token: \"templates\" then holds every\n"
    "template with its values (GET /api/v1/export/templates, audited), for moving a site to\n"
    "another server with the same model. Keep such a file as safe as the server's keys.\n"
    "'user export' gives one person's data, templates as a count.\n"
    "\n"
    "Options:\n"
    "  --output FILE     write to FILE (mode 0600; FILE.partial until complete) instead of\n"
    "                    stdout\n"
    "  --with-templates  include the template values (admin role; exit 4 without "
    "it)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 exported, 1 failed, 2 usage error, " FG_API_EXIT_LAST;

// ---------------------------------------------------------------- events

// The filter options as a query string; kUsage (message printed) for a bad time or decision.
int EventQuery(const ApiCommand& c, std::string* query) {
  for (const char* t : {"--from", "--until"}) {
    if (auto v = c.args.Value(t); v && !ParseRfc3339(*v)) {
      return ctl::UsageError(c.prog,
                             std::string(t) +
                                 ": expected an RFC 3339 time such as 2026-12-01T08:00:00Z, got " +
                                 Quoted(*v),
                             c.help);
    }
  }
  if (auto v = c.args.Value("--decision"); v && *v != "grant" && *v != "deny") {
    return ctl::UsageError(c.prog, "--decision: expected grant or deny, got " + Quoted(*v), c.help);
  }
  auto norm = [&](const char* name) -> std::optional<std::string> {
    auto v = c.args.Value(name);
    if (v && (std::string_view(name) == "--from" || std::string_view(name) == "--until")) {
      return FormatRfc3339(*ParseRfc3339(*v));
    }
    return v;
  };
  *query = ctl::QueryString({{"from", norm("--from")},
                             {"until", norm("--until")},
                             {"door", norm("--door")},
                             {"user", norm("--user")},
                             {"device", norm("--device")},
                             {"decision", norm("--decision")},
                             {"reason", norm("--reason")}});
  return kOk;
}

// --limit N: 0 all; default 100.
int LimitOption(const ApiCommand& c, size_t* limit) {
  *limit = 100;
  if (auto v = c.args.Value("--limit")) {
    auto n = ctl::ParseInt(*v, 0, int64_t{1} << 40);
    if (!n) return ctl::UsageError(c.prog, "--limit: expected a number, got " + Quoted(*v), c.help);
    *limit = static_cast<size_t>(*n);
  }
  return kOk;
}

#define FG_EVENT_VALUED \
  "--from", "--until", "--door", "--user", "--device", "--decision", "--reason"

int EventList(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl event list", kEventListHelp, {},
                   {FG_EVENT_VALUED, "--limit"}, 0, 0, "");
  if (rc != kOk) return ApiCommand::Done(rc);
  std::string query;
  size_t limit = 0;
  if (int r = EventQuery(c, &query); r != kOk) return r;
  if (int r = LimitOption(c, &limit); r != kOk) return r;
  if (int r = c.Connect(); r != kOk) return r;
  auto events = c.GetAll("/api/v1/events" + query, limit);
  if (!events) return c.rc;
  if (c.args.json) {
    PrintJson({{"events", *events}});
    return kOk;
  }
  // The door and device by name: the events carry ids.
  std::map<int64_t, std::string> doors, devices;
  if (auto all = c.GetAll("/api/v1/doors")) {
    for (const auto& d : *all) doors[d.value("id", int64_t{0})] = Str(d, "external_id");
  }
  if (auto all = c.GetAll("/api/v1/devices")) {
    for (const auto& d : *all) devices[d.value("id", int64_t{0})] = Str(d, "name");
  }
  auto name_of = [](const std::map<int64_t, std::string>& m, const json& id) -> std::string {
    if (!id.is_number_integer()) return "-";
    auto it = m.find(id.get<int64_t>());
    return it == m.end() ? "#" + std::to_string(id.get<int64_t>()) : it->second;
  };
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : *events) {
    char distance[32] = "-", latency[32];
    if (e.contains("distance") && e["distance"].is_number()) {
      std::snprintf(distance, sizeof distance, "%.4f", e["distance"].get<double>());
    }
    std::snprintf(latency, sizeof latency, "%.1f", e.value("latency_ms", 0.0));
    rows.push_back({std::to_string(e.value("id", int64_t{0})), Str(e, "time"),
                    name_of(doors, e.value("door_id", json())),
                    name_of(devices, e.value("device_id", json())), Str(e, "user"),
                    Str(e, "decision"), Str(e, "reason"), distance, latency});
  }
  ctl::PrintTable(
      {"ID", "TIME", "DOOR", "DEVICE", "USER", "DECISION", "REASON", "DISTANCE", "LATENCY_MS"},
      rows);
  return kOk;
}

int EventExport(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl event export", kEventExportHelp, {},
                   {FG_EVENT_VALUED, "--output"}, 0, 0, "");
  if (rc != kOk) return ApiCommand::Done(rc);
  std::string query;
  if (int r = EventQuery(c, &query); r != kOk) return r;
  if (int r = c.Connect(); r != kOk) return r;
  return Download(c, "/api/v1/events.csv" + query);
}

// ---------------------------------------------------------------- integrations

void PrintIntegration(const json& i) {
  std::printf("integration %s: %s\n", Str(i, "name").c_str(), Str(i, "description").c_str());
  std::printf("  enabled:  %s\n", i.value("enabled", false) ? "yes" : "no");
  std::printf(
      "  status:   %s%s%s\n", Str(i, "status").c_str(),
      Str(i, "last_error", "").empty() ? "" : ", last error: ", Str(i, "last_error", "").c_str());
  const json settings = i.value("settings", json::object());
  std::printf("  settings:%s\n", settings.empty() ? " none" : "");
  for (auto it = settings.begin(); it != settings.end(); ++it) {
    std::printf("    %s = %s\n", it.key().c_str(),
                it->is_string() ? it->get<std::string>().c_str() : it->dump().c_str());
  }
  std::printf("  updated:  %s\n", Str(i, "updated_at", "never").c_str());
  const json details = i.value("details", json());
  if (!details.is_object()) return;
  // What the integration reports at run time, one line per value ("last_sync.users_read").
  std::printf("  details:\n");
  const json flat = details.flatten();
  for (auto it = flat.begin(); it != flat.end(); ++it) {
    std::string key = it.key().substr(1);
    std::replace(key.begin(), key.end(), '/', '.');
    std::printf("    %s = %s\n", key.c_str(),
                it->is_string() ? it->get<std::string>().c_str() : it->dump().c_str());
  }
}

// `integration space sync|reset-key`: the Salto Space integration's own actions.
int SpaceCommand(int argc, char** argv) {
  const std::string verb = argc > 0 ? argv[0] : "";
  if (verb != "sync" && verb != "reset-key") {
    return ctl::UsageError(
        "facegatectl integration space",
        verb.empty() ? "expected sync or reset-key" : "unknown command " + Quoted(verb),
        kIntegrationHelp);
  }
  ApiCommand c;
  int rc = c.Parse(argc - 1, argv + 1, "facegatectl integration space " + verb, kIntegrationHelp,
                   verb == "reset-key" ? std::initializer_list<std::string_view>{"--yes"}
                                       : std::initializer_list<std::string_view>{},
                   {}, 0, 0, "");
  if (rc != kOk) return ApiCommand::Done(rc);
  if (verb == "reset-key") {
    if (int r =
            ctl::Confirm(c.prog, "replace the SHIP API key (Salto Space must be given the new one)",
                         c.args.Has("--yes"));
        r != kOk) {
      return r;
    }
  }
  if (int r = c.Connect(); r != kOk) return r;
  auto answer = c.Send("POST", "/api/v1/integrations/space/" + verb, json::object());
  if (!answer) return c.rc;
  if (c.args.json) {
    PrintJson(*answer);
  } else if (verb == "reset-key") {
    std::printf("new SHIP API key (shown once): %s\n%s\n", Str(*answer, "api_key").c_str(),
                Str(*answer, "message", "").c_str());
  } else {
    std::printf("%s\n", Str(*answer, "message", "sync requested").c_str());
  }
  return kOk;
}

int IntegrationCommand(int argc, char** argv) {
  const std::string verb = argc > 0 ? argv[0] : "";
  if (verb == "-h" || verb == "--help") {
    std::fputs(kIntegrationHelp, stdout);
    return kOk;
  }
  if (verb == "space") return SpaceCommand(argc - 1, argv + 1);
  if (verb != "list" && verb != "show" && verb != "set" && verb != "status") {
    return ctl::UsageError("facegatectl integration",
                           verb.empty() ? "expected list, status, show, set or space"
                                        : "unknown command " + Quoted(verb),
                           kIntegrationHelp);
  }
  ApiCommand c;
  const size_t n = verb == "list" || verb == "status" ? 0 : 1;
  int rc = verb == "set" ? c.Parse(argc - 1, argv + 1, "facegatectl integration set",
                                   kIntegrationHelp, {"--enable", "--disable"}, {"--setting"}, 1, 1,
                                   "no integration name given")
                         : c.Parse(argc - 1, argv + 1, "facegatectl integration " + verb,
                                   kIntegrationHelp, {}, {}, n, n, "no integration name given");
  if (rc != kOk) return ApiCommand::Done(rc);
  json body = json::object();
  if (verb == "set") {
    if (c.args.Has("--enable") && c.args.Has("--disable")) {
      return ctl::UsageError(c.prog, "--enable and --disable contradict each other", c.help);
    }
    if (c.args.Has("--enable")) body["enabled"] = true;
    if (c.args.Has("--disable")) body["enabled"] = false;
    for (const auto& s : c.args.Values("--setting")) {
      const size_t eq = s.find('=');
      if (eq == std::string::npos || eq == 0) {
        return ctl::UsageError(c.prog, "--setting: expected KEY=VALUE, got " + Quoted(s), c.help);
      }
      const std::string key = s.substr(0, eq), value = s.substr(eq + 1);
      json v = json::parse(value, nullptr, false);
      if (value.empty()) {
        v = nullptr;  // removes the key
      } else if (v.is_discarded() || v.is_string() || v.is_null()) {
        v = value;
      }
      body["settings"][key] = v;
    }
    if (body.empty()) {
      return ctl::UsageError(c.prog, "nothing to change: give --enable, --disable or --setting",
                             c.help);
    }
  }
  if (int r = c.Connect(); r != kOk) return r;
  if (verb == "list" || verb == "status") {
    auto page = c.Get("/api/v1/integrations");
    if (!page) return c.rc;
    json items = page->value("items", json::array());
    if (c.args.json) {
      PrintJson({{"integrations", items}});
      return kOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& i : items) {
      rows.push_back({Str(i, "name"), i.value("enabled", false) ? "yes" : "no", Str(i, "status"),
                      Str(i, "last_error"), Str(i, "description")});
    }
    ctl::PrintTable({"NAME", "ENABLED", "STATUS", "LAST_ERROR", "DESCRIPTION"}, rows);
    return kOk;
  }
  const std::string path = "/api/v1/integrations/" + UrlEncode(c.args.positional[0]);
  auto i = verb == "show" ? c.Get(path) : c.Send("PUT", path, body);
  if (!i) return c.rc;
  if (c.args.json) {
    PrintJson(*i);
  } else {
    PrintIntegration(*i);
  }
  return kOk;
}

// ---------------------------------------------------------------- status

std::string Duration(double seconds) {
  const auto s = static_cast<long long>(seconds);
  char buf[64];
  if (s >= 86400) {
    std::snprintf(buf, sizeof buf, "%lldd %lldh %lldm", s / 86400, s % 86400 / 3600, s % 3600 / 60);
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh %lldm", s / 3600, s % 3600 / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm %llds", s / 60, s % 60);
  }
  return buf;
}

int StatusCommand(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl status", kStatusHelp, {}, {}, 0, 0, "");
  if (rc == kOk) rc = c.Connect();
  if (rc != kOk) return ApiCommand::Done(rc);
  auto s = c.Get("/api/v1/system");
  if (!s) return c.rc;
  if (c.args.json) {
    PrintJson(*s);
    return kOk;
  }
  const json counts = s->value("counts", json::object());
  const json model = s->value("model", json::object());
  const json index = s->value("index", json());
  auto count = [&](const char* k) { return std::to_string(counts.value(k, int64_t{0})); };
  std::printf("facegated %s at %s\n", Str(*s, "version").c_str(), c.client->url().c_str());
  std::printf("  uptime:    %s (server time %s)\n", Duration(s->value("uptime_s", 0.0)).c_str(),
              Str(*s, "time").c_str());
  std::printf("  users:     %s, face templates %s\n", count("users").c_str(),
              count("templates").c_str());
  std::printf("  doors:     %s; devices %s (%s online)\n", count("doors").c_str(),
              count("devices").c_str(), count("devices_online").c_str());
  std::printf("  events:    %s\n", count("events").c_str());
  std::printf("  model:     %s, face work %s, security level %s (threshold %.3f)\n",
              Str(model, "version").c_str(), model.value("face_work", false) ? "on" : "off",
              Str(model, "security_level").c_str(), model.value("threshold", 0.0));
  if (index.is_object()) {
    std::printf("  index:     %lld templates of %lld people, %s, %s, loaded in %.2f s\n",
                static_cast<long long>(index.value("templates", int64_t{0})),
                static_cast<long long>(index.value("identities", int64_t{0})),
                Str(index, "storage").c_str(), Str(index, "simd").c_str(),
                index.value("load_seconds", 0.0));
    std::printf("  stranger match probability: %.2g per attempt\n",
                index.value("stranger_match_probability", 0.0));
  } else {
    std::printf("  index:     none (face work is off)\n");
  }
  return kOk;
}

// ---------------------------------------------------------------- audit

int AuditCommand(int argc, char** argv) {
  const std::string verb = argc > 0 ? argv[0] : "";
  if (verb == "-h" || verb == "--help") {
    std::fputs(kAuditHelp, stdout);
    return kOk;
  }
  if (verb != "list") {
    return ctl::UsageError("facegatectl audit",
                           verb.empty() ? "expected list" : "unknown command " + Quoted(verb),
                           kAuditHelp);
  }
  ApiCommand c;
  int rc = c.Parse(argc - 1, argv + 1, "facegatectl audit list", kAuditHelp, {},
                   {"--action", "--actor", "--from", "--until", "--limit"}, 0, 0, "");
  if (rc != kOk) return ApiCommand::Done(rc);
  size_t limit = 0;
  if (int r = LimitOption(c, &limit); r != kOk) return r;
  for (const char* t : {"--from", "--until"}) {
    if (auto v = c.args.Value(t); v && !ParseRfc3339(*v)) {
      return ctl::UsageError(
          c.prog, std::string(t) + ": expected an RFC 3339 time, got " + Quoted(*v), c.help);
    }
  }
  auto t = [&](const char* name) -> std::optional<std::string> {
    auto v = c.args.Value(name);
    if (!v) return v;
    return FormatRfc3339(*ParseRfc3339(*v));
  };
  if (int r = c.Connect(); r != kOk) return r;
  auto rows = c.GetAll("/api/v1/audit" + ctl::QueryString({{"action", c.args.Value("--action")},
                                                           {"actor", c.args.Value("--actor")},
                                                           {"from", t("--from")},
                                                           {"until", t("--until")}}),
                       limit);
  if (!rows) return c.rc;
  if (c.args.json) {
    PrintJson({{"audit", *rows}});
    return kOk;
  }
  std::vector<std::vector<std::string>> table;
  for (const auto& a : *rows) {
    const json details = a.value("details", json::object());
    table.push_back({std::to_string(a.value("id", int64_t{0})), Str(a, "at"), Str(a, "actor"),
                     Str(a, "remote_address"), Str(a, "action"), Str(a, "target"),
                     Str(a, "outcome"), details.empty() ? "-" : details.dump()});
  }
  ctl::PrintTable({"ID", "AT", "ACTOR", "ADDRESS", "ACTION", "TARGET", "OUTCOME", "DETAILS"},
                  table);
  return kOk;
}

// ---------------------------------------------------------------- export

// Every template with its values (GET /api/v1/export/templates, JSON lines, admin role), or
// nullopt with c.rc set (message printed).
std::optional<json> DownloadTemplates(ApiCommand& c) {
  json templates = json::array();
  std::string pending;  // a line split across pieces
  auto r = c.client->Download("/api/v1/export/templates", [&](std::string_view piece) {
    pending.append(piece);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      json line = json::parse(pending.begin() + static_cast<std::ptrdiff_t>(start),
                              pending.begin() + static_cast<std::ptrdiff_t>(nl), nullptr, false);
      if (line.is_discarded() || !line.is_object()) {
        return Status::Internal("the template export holds a line that is not a JSON object");
      }
      templates.push_back(std::move(line));
    }
    pending.erase(0, start);
    return Status::Ok();
  });
  if (!r.ok()) {
    c.rc = ctl::FailRequest(c.prog, r.status());
    return std::nullopt;
  }
  if (!r->ok()) {
    c.rc = ctl::FailResponse(c.prog, *r);
    return std::nullopt;
  }
  if (!pending.empty()) {
    c.rc = ctl::Fail(c.prog, Status::Internal("the template export ends in the middle of a line"));
    return std::nullopt;
  }
  return templates;
}

int ExportCommand(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl export", kExportHelp, {"--with-templates"},
                   {"--output"}, 0, 0, "");
  if (rc != kOk) return ApiCommand::Done(rc);
  if (int r = c.Connect(); r != kOk) return r;
  auto users = c.GetAll("/api/v1/users");
  if (!users) return c.rc;
  auto groups = c.GetAll("/api/v1/groups");
  if (!groups) return c.rc;
  for (auto& g : *groups) {
    auto members = c.GetAll("/api/v1/groups/" + UrlEncode(Str(g, "external_id", "")) + "/members");
    if (!members) return c.rc;
    json ids = json::array();
    for (const auto& m : *members) ids.push_back(Str(m, "external_id", ""));
    g["members"] = ids;
  }
  auto rights = c.GetAll("/api/v1/rights");
  if (!rights) return c.rc;
  json doc = {{"exported_at", FormatRfc3339(SystemClock::Instance().Now())},
              {"source", c.client->url()},
              {"users", *users},
              {"groups", *groups},
              {"rights", *rights}};
  if (c.args.Has("--with-templates")) {
    auto templates = DownloadTemplates(c);
    if (!templates) return c.rc;
    doc["templates"] = std::move(*templates);
  } else {
    doc["templates"] = "not exported (--with-templates, admin role)";
  }
  if (int r = Output(c, doc.dump(2) + "\n"); r != kOk) return r;
  if (c.args.Value("--output")) {
    std::fprintf(stderr, "%s: %zu users, %zu groups, %zu rights%s exported to %s\n", c.prog.c_str(),
                 users->size(), groups->size(), rights->size(),
                 doc["templates"].is_array()
                     ? (", " + std::to_string(doc["templates"].size()) + " templates").c_str()
                     : "",
                 c.args.Value("--output")->c_str());
  }
  return kOk;
}

}  // namespace

bool IsAdminCommand(const std::string& group) {
  return group == "event" || group == "integration" || group == "status" || group == "audit" ||
         group == "export";
}

// argv[0] is the first argument after the group.
int RunAdminCommand(const std::string& group, int argc, char** argv) {
  if (group == "event") {
    const std::string verb = argc > 0 ? argv[0] : "";
    if (verb == "list") return EventList(argc - 1, argv + 1);
    if (verb == "export") return EventExport(argc - 1, argv + 1);
    if (verb == "-h" || verb == "--help") {
      std::fputs(kEventHelp, stdout);
      return kOk;
    }
    return ctl::UsageError(
        "facegatectl event",
        verb.empty() ? "expected list or export" : "unknown command " + Quoted(verb), kEventHelp);
  }
  if (group == "integration") return IntegrationCommand(argc, argv);
  if (group == "status") return StatusCommand(argc, argv);
  if (group == "audit") return AuditCommand(argc, argv);
  if (group == "export") return ExportCommand(argc, argv);
  return kUsage;
}

}  // namespace facegate::app
