// `facegatectl user|door|group|schedule|holiday|right ...`: the site's records, through the
// admin API of a running facegated (docs/admin-api.md), from any host that can reach its admin
// listener with a token (ctl_client.h: --url, --token-file, --ca, FACEGATE_*).
//
// Records are named by their external ids (the access-control system's ids, or ones the
// admin chooses); the store's internal ids are shown but never needed, except for rights,
// which have no external id. Output: text, or one JSON document with --json. Exit codes:
// ctl_common.h (0 ok, 1 failure, 2 usage, 3 unreachable, 4 token refused, 5 not found,
// 6 conflict).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl_api_command.h"
#include "ctl_common.h"
#include "ctl_output.h"
#include "facegate/access/schedule_text.h"
#include "facegate/core/time_format.h"
#include "facegate/face/matching.h"
#include "facegate/store/records.h"

namespace facegate::app {
namespace {

using ctl::ApiCommand;
using ctl::Args;
using ctl::kFailure;
using ctl::kHelpShown;
using ctl::kOk;
using ctl::kUsage;
using ctl::PrintJson;
using ctl::Quoted;
using ctl::Str;
using ctl::UrlEncode;
using json = nlohmann::json;
using store::WallTime;

// ---------------------------------------------------------------- help texts

#define FG_CONN "[--json] [--url URL] [--token-file FILE] [--ca FILE]"

constexpr const char* kUserHelp =
    "Usage: facegatectl user COMMAND [ARGS] " FG_CONN
    "\n"
    "\n"
    "The people Facegate knows, through the admin API of a running facegated.\n"
    "\n"
    "Commands:\n"
    "  add EXTERNAL_ID      add a user\n"
    "  update EXTERNAL_ID   change a user's names, validity or state\n"
    "  list                 every user\n"
    "  show EXTERNAL_ID     one user: groups, rights, face templates (metadata only)\n"
    "  erase EXTERNAL_ID    GDPR erasure: the user and every face template of theirs\n"
    "  export EXTERNAL_ID   GDPR subject access: everything stored about the user, as JSON\n"
    "\n"
    "Run 'facegatectl user COMMAND --help' for a command's options.\n";

constexpr const char* kUserAddHelp =
    "Usage: facegatectl user add EXTERNAL_ID [--first-name N] [--last-name N]\n"
    "                            [--valid-from T] [--valid-until T] [--inactive] [--banned]\n"
    "                            " FG_CONN
    "\n"
    "\n"
    "Adds a user (source: local): POST /api/v1/users. Enroll their face with 'facegatectl\n"
    "face enroll' and give them rights with 'facegatectl right add' or a group ('facegatectl\n"
    "group member add'). Needs an operator token.\n"
    "\n"
    "Options:\n"
    "  --first-name N, --last-name N\n"
    "  --valid-from T, --valid-until T\n"
    "                    RFC 3339 times (2026-12-01T08:00:00Z, or with an offset such as\n"
    "                    +01:00); without them the user is valid since ever, for ever\n"
    "  --inactive        the user exists but is refused at every door\n"
    "  --banned          refused at every door (reason user_banned)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 added, 1 refused or failed, 2 usage error, " FG_API_EXIT "6 the user exists.\n";

constexpr const char* kUserUpdateHelp =
    "Usage: facegatectl user update EXTERNAL_ID [--first-name N] [--last-name N]\n"
    "                               [--valid-from T|none] [--valid-until T|none]\n"
    "                               [--active|--inactive] [--banned|--unbanned] " FG_CONN
    "\n"
    "\n"
    "Changes what is given and keeps the rest (PATCH /api/v1/users/ID). 'none' clears a\n"
    "validity bound. Users owned by the access-control system's sync (source ship) are\n"
    "changed there, not here (409 read_only).\n"
    "\n"
    "Options:\n"
    "  --first-name N, --last-name N\n"
    "  --valid-from T|none, --valid-until T|none   RFC 3339 times\n"
    "  --active, --inactive\n"
    "  --banned, --unbanned\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 updated, 1 refused (e.g. never valid with the stored bounds), 2 usage\n"
    "error, " FG_API_EXIT "5 no such user, 6 owned by the sync.\n";

constexpr const char* kUserListHelp =
    "Usage: facegatectl user list [--query TEXT] [--source local|ship] " FG_CONN
    "\n"
    "\n"
    "Every user: id, external id, name, state, validity, source ('user show' gives the\n"
    "number of face templates).\n"
    "\n"
    "Options:\n"
    "  --query TEXT      only users whose external id or name contains TEXT\n"
    "  --source S        only users of this source\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed, 2 usage error, " FG_API_EXIT_LAST;

constexpr const char* kUserShowHelp =
    "Usage: facegatectl user show EXTERNAL_ID " FG_CONN
    "\n"
    "\n"
    "One user: names, state, validity, groups, direct rights, and the metadata of their face\n"
    "templates (id, source, model version, key, quality values, creation time). Template\n"
    "values are never shown.\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 shown, 1 failed, 2 usage error, " FG_API_EXIT "5 no such user.\n";

constexpr const char* kUserEraseHelp =
    "Usage: facegatectl user erase EXTERNAL_ID [--yes] " FG_CONN
    "\n"
    "\n"
    "The GDPR erasure (DELETE /api/v1/users/ID): the daemon deletes the user, their\n"
    "memberships and rights and every face template of theirs in one transaction, removes\n"
    "them from the in-memory index, then checkpoints the database's WAL so that no erased\n"
    "byte remains in its files (secure_delete zeroes the freed pages). Access events keep the\n"
    "external id until their retention period ends. Backups made before still hold the user:\n"
    "they expire with the backups' own retention. Users synced from Salto Space are erased\n"
    "there. Needs an operator token; audited.\n"
    "\n"
    "Options:\n"
    "  --yes             proceed without asking (required when stdin is not a "
    "terminal)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 erased, 1 failed, 2 usage error or --yes missing, " FG_API_EXIT
    "5 no such\nuser, 6 owned by the sync.\n";

constexpr const char* kUserExportHelp =
    "Usage: facegatectl user export EXTERNAL_ID [--output FILE] " FG_CONN
    "\n"
    "\n"
    "The GDPR subject access (GET /api/v1/users/ID/export): the user's record, groups,\n"
    "rights (direct and through groups) and access events, and their face templates as a\n"
    "count with dates and sources (never their values). Always JSON. Needs an operator\n"
    "token; audited.\n"
    "\n"
    "Options:\n"
    "  --output FILE     write the document to FILE (mode 0600) instead of stdout\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 exported, 1 failed, 2 usage error, " FG_API_EXIT "5 no such user.\n";

constexpr const char* kDoorHelp =
    "Usage: facegatectl door COMMAND [ARGS] " FG_CONN
    "\n"
    "\n"
    "Commands:\n"
    "  add EXTERNAL_ID   add a door, with its face policy\n"
    "  list              every door and its policy\n"
    "\n"
    "Run 'facegatectl door COMMAND --help' for a command's options.\n";

constexpr const char* kDoorAddHelp =
    "Usage: facegatectl door add EXTERNAL_ID [--name N] [--security-level LEVEL]\n"
    "                            [--require-pad] [--pad-min-score X] " FG_CONN
    "\n"
    "\n"
    "Adds a door (POST /api/v1/doors; an admin token). EXTERNAL_ID is the access-control\n"
    "system's door id (Salto's ExtDoorID), which facegated opens on a grant. The policy\n"
    "options are stored in the door's settings.\n"
    "\n"
    "Options:\n"
    "  --name N              a name for people\n"
    "  --security-level L    normal, high or highest: the match threshold at this door\n"
    "                        (default: the config's face.matching.security_level)\n"
    "  --require-pad         deny (presentation_attack) captures whose terminal sends no\n"
    "                        presentation-attack score, or a score below --pad-min-score\n"
    "  --pad-min-score X     the lowest PAD score accepted, 0..1 (default 0.5)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 added, 1 refused or failed, 2 usage error, " FG_API_EXIT "6 the door exists.\n";

constexpr const char* kDoorListHelp =
    "Usage: facegatectl door list " FG_CONN
    "\n"
    "\n"
    "Every door: id, external id, name, security level, PAD policy, source.\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed, 2 usage error, " FG_API_EXIT_LAST;

constexpr const char* kGroupHelp =
    "Usage: facegatectl group COMMAND [ARGS] " FG_CONN
    "\n"
    "\n"
    "Access groups: rights given to a group apply to each of its members.\n"
    "\n"
    "Commands:\n"
    "  add EXTERNAL_ID             add a group\n"
    "  list                        every group and its number of members\n"
    "  member add GROUP USER       make the user a member\n"
    "  member remove GROUP USER    end the membership\n"
    "  member list GROUP           the group's members\n"
    "\n"
    "GROUP and USER are external ids. Run 'facegatectl group COMMAND --help' for options.\n";

constexpr const char* kGroupAddHelp =
    "Usage: facegatectl group add EXTERNAL_ID [--name N] " FG_CONN
    "\n"
    "\n"
    "Adds an access group (POST /api/v1/groups; an admin token).\n"
    "\n"
    "Options:\n"
    "  --name N          a name for people\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 added, 1 refused or failed, 2 usage error, " FG_API_EXIT
    "6 the group exists.\n";

constexpr const char* kGroupListHelp =
    "Usage: facegatectl group list " FG_CONN
    "\n"
    "\n"
    "Every group: id, external id, name, number of members, source.\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed, 2 usage error, " FG_API_EXIT_LAST;

constexpr const char* kGroupMemberHelp =
    "Usage: facegatectl group member add GROUP USER " FG_CONN
    "\n"
    "       facegatectl group member remove GROUP USER " FG_CONN
    "\n"
    "       facegatectl group member list GROUP " FG_CONN
    "\n"
    "\n"
    "Adds a user to a group, removes them from it (an admin token), or lists its members.\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 done, 1 failed, 2 usage error, " FG_API_EXIT
    "5 no such group or user, or\nnot a member (remove), 6 already a member (add).\n";

constexpr const char* kScheduleHelp =
    "Usage: facegatectl schedule COMMAND [ARGS] " FG_CONN
    "\n"
    "\n"
    "Weekly schedules (time zones) that rights can be limited to, in the site's local time.\n"
    "\n"
    "Commands:\n"
    "  add EXTERNAL_ID --range DAY:HH:MM-HH:MM...   add a schedule\n"
    "  list                                        every schedule with its ranges\n"
    "\n"
    "Run 'facegatectl schedule COMMAND --help' for a command's options.\n";

constexpr const char* kScheduleAddHelp =
    "Usage: facegatectl schedule add EXTERNAL_ID --range DAY:HH:MM-HH:MM [--range ...]\n"
    "                                [--name N] [--calendar C] " FG_CONN
    "\n"
    "\n"
    "Adds a schedule with its ranges (POST /api/v1/schedules; an admin token). DAY is mon,\n"
    "tue, wed, thu, fri, sat or sun (or 1..7, ISO weekdays), holiday (8), special1 (9) or\n"
    "special2 (10); a span such as mon-fri or a list such as sat,sun gives the range to each\n"
    "of those days. A range starts at its first minute and ends before its last (24:00 =\n"
    "until midnight) and never crosses midnight: 22:00-06:00 is written as two ranges, e.g.\n"
    "mon:22:00-24:00 and tue:00:00-06:00. On a date of the schedule's holiday calendar the\n"
    "ranges of that holiday's day type apply instead of the weekday's (none: closed that\n"
    "day).\n"
    "\n"
    "Options:\n"
    "  --range R         a range (repeat for more)\n"
    "  --name N          a name for people\n"
    "  --calendar C      the holiday calendar (default \"default\")\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 added, 1 refused or failed, 2 usage error, " FG_API_EXIT
    "6 the schedule\nexists.\n";

constexpr const char* kScheduleListHelp =
    "Usage: facegatectl schedule list " FG_CONN
    "\n"
    "\n"
    "Every schedule: id, external id, name, calendar, ranges (in --range syntax), source.\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed, 2 usage error, " FG_API_EXIT_LAST;

constexpr const char* kHolidayHelp =
    "Usage: facegatectl holiday COMMAND [ARGS] " FG_CONN
    "\n"
    "\n"
    "Commands:\n"
    "  add CALENDAR YYYY-MM-DD   a date on which that calendar's schedules use a holiday day\n"
    "  list                      every holiday of every calendar\n"
    "\n"
    "Run 'facegatectl holiday COMMAND --help' for a command's options.\n";

constexpr const char* kHolidayAddHelp =
    "Usage: facegatectl holiday add CALENDAR YYYY-MM-DD [--day-type 8|9|10] [--name N]\n"
    "                               " FG_CONN
    "\n"
    "\n"
    "On that local date, schedules of CALENDAR use their ranges of the day type (8 holiday,\n"
    "9 special day 1, 10 special day 2) instead of the weekday's, for the whole day\n"
    "(POST /api/v1/holidays; an admin token).\n"
    "\n"
    "Options:\n"
    "  --day-type T      8 (default), 9 or 10\n"
    "  --name N          e.g. \"New Year\"\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 added, 1 refused or failed, 2 usage error, " FG_API_EXIT
    "6 the calendar\nhas a holiday on that date already.\n";

constexpr const char* kHolidayListHelp =
    "Usage: facegatectl holiday list [--calendar C] " FG_CONN
    "\n"
    "\n"
    "Every holiday: calendar, date, day type, name, source.\n"
    "\n"
    "Options:\n"
    "  --calendar C      only this calendar's\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed, 2 usage error, " FG_API_EXIT_LAST;

constexpr const char* kRightHelp =
    "Usage: facegatectl right COMMAND [ARGS] " FG_CONN
    "\n"
    "\n"
    "Access rights: a user or a group may pass a door, at any time or within a schedule.\n"
    "\n"
    "Commands:\n"
    "  add (--user EXT | --group EXT) --door EXT [--schedule EXT]   give a right\n"
    "  list [--user EXT] [--group EXT] [--door EXT]                 list rights\n"
    "  remove ID                                                    take a right away\n"
    "\n"
    "Run 'facegatectl right COMMAND --help' for a command's options.\n";

constexpr const char* kRightAddHelp =
    "Usage: facegatectl right add (--user EXT | --group EXT) --door EXT [--schedule EXT]\n"
    "                             " FG_CONN
    "\n"
    "\n"
    "Gives one user or one group a right to a door, at any time or within a schedule (POST\n"
    "/api/v1/rights; an admin token). A holder has at most one right per door. Prints the\n"
    "right's id (for 'right remove').\n"
    "\n"
    "Options:\n"
    "  --user EXT        the user's external id\n"
    "  --group EXT       the group's external id (instead of --user)\n"
    "  --door EXT        the door's external id\n"
    "  --schedule EXT    the schedule's external id (default: at any time)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 added, 1 an unknown user, group, door or schedule, or another refusal,\n"
    "2 usage error, " FG_API_EXIT "6 the holder has a right to that door\nalready.\n";

constexpr const char* kRightListHelp =
    "Usage: facegatectl right list [--user EXT] [--group EXT] [--door EXT] " FG_CONN
    "\n"
    "\n"
    "Rights, with their ids. With --user: the user's own rights and those of their groups\n"
    "(marked 'via'), i.e. every door the user may pass.\n"
    "\n"
    "Options:\n"
    "  --user EXT, --group EXT, --door EXT   only these rights (all given must "
    "match)\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 failed, 2 usage error, " FG_API_EXIT
    "5 an unknown user, group\nor door.\n";

constexpr const char* kRightRemoveHelp =
    "Usage: facegatectl right remove ID " FG_CONN
    "\n"
    "\n"
    "Takes the right with this id away (ids from 'facegatectl right list'; an admin token).\n"
    "\n"
    "Options:\n" FG_API_OPTIONS
    "\n"
    "Exit status: 0 removed, 1 failed, 2 usage error, " FG_API_EXIT "5 no such right.\n";

// ---------------------------------------------------------------- shared pieces

// Parses and connects; kOk to go on, else the exit code.
int Start(ApiCommand* c, int argc, char** argv, std::string prog, const char* help,
          std::initializer_list<std::string_view> flags,
          std::initializer_list<std::string_view> valued, size_t min_positional,
          size_t max_positional, std::string_view missing, bool connect = true) {
  int rc = c->Parse(argc, argv, std::move(prog), help, flags, valued, min_positional,
                    max_positional, missing);
  if (rc != kOk) return rc;
  return connect ? c->Connect() : kOk;
}

int Done(int rc) { return ApiCommand::Done(rc); }

std::string Path(std::string_view collection, std::string_view id) {
  return "/api/v1/" + std::string(collection) + "/" + UrlEncode(id);
}

std::optional<WallTime> TimeOf(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return std::nullopt;
  return ParseRfc3339(j[key].get<std::string>());
}

// ---------------------------------------------------------------- users

std::string UserState(const json& u) {
  const bool active = u.value("active", true), banned = u.value("banned", false);
  if (banned) return active ? "banned" : "inactive,banned";
  return active ? "active" : "inactive";
}

std::string FullName(const json& u) {
  std::string n = Str(u, "first_name", "");
  const std::string last = Str(u, "last_name", "");
  if (!last.empty()) n += (n.empty() ? "" : " ") + last;
  return n;
}

void PrintUserLine(const char* what, const json& u) {
  const std::string name = FullName(u);
  std::printf("user %s %s (id %lld): %s, %s, valid %s .. %s\n", Str(u, "external_id").c_str(), what,
              static_cast<long long>(u.value("id", int64_t{0})),
              name.empty() ? "no name" : name.c_str(), UserState(u).c_str(),
              ctl::TimeText(TimeOf(u, "valid_from"), "since ever").c_str(),
              ctl::TimeText(TimeOf(u, "valid_until"), "for ever").c_str());
}

// The user options of add/update as the fields of a request body. Returns kOk or kUsage
// (message printed). The validity check uses what is given only: the server checks it
// against the stored bounds too.
int UserFields(const ApiCommand& c, bool update, json* body) {
  const Args& a = c.args;
  if (auto v = a.Value("--first-name")) (*body)["first_name"] = *v;
  if (auto v = a.Value("--last-name")) (*body)["last_name"] = *v;
  std::optional<WallTime> from, until;
  for (const char* name : {"--valid-from", "--valid-until"}) {
    auto v = a.Value(name);
    if (!v) continue;
    const char* field = std::string_view(name) == "--valid-from" ? "valid_from" : "valid_until";
    if (update && *v == "none") {
      (*body)[field] = nullptr;
      continue;
    }
    auto t = ParseRfc3339(*v);
    if (!t) {
      return ctl::UsageError(c.prog,
                             std::string(name) +
                                 ": expected an RFC 3339 time such as 2026-12-01T08:00:00Z" +
                                 (update ? " (or none)" : "") + ", got " + Quoted(*v),
                             c.help);
    }
    (*body)[field] = FormatRfc3339(*t);
    (std::string_view(name) == "--valid-from" ? from : until) = t;
  }
  if (a.Has("--active") && a.Has("--inactive")) {
    return ctl::UsageError(c.prog, "--active and --inactive contradict each other", c.help);
  }
  if (a.Has("--banned") && a.Has("--unbanned")) {
    return ctl::UsageError(c.prog, "--banned and --unbanned contradict each other", c.help);
  }
  if (a.Has("--active")) (*body)["active"] = true;
  if (a.Has("--inactive")) (*body)["active"] = false;
  if (a.Has("--banned")) (*body)["banned"] = true;
  if (a.Has("--unbanned")) (*body)["banned"] = false;
  if (from && until && *until <= *from) {
    return ctl::UsageError(c.prog,
                           "the user would never be valid: --valid-until (" +
                               FormatRfc3339(*until) + ") is not after --valid-from (" +
                               FormatRfc3339(*from) + ")",
                           c.help);
  }
  return kOk;
}

int UserAdd(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl user add", kUserAddHelp, {"--inactive", "--banned"},
                   {"--first-name", "--last-name", "--valid-from", "--valid-until"}, 1, 1,
                   "no external id given");
  if (rc != kOk) return Done(rc);
  json body = {{"external_id", c.args.positional[0]}};
  if (int r = UserFields(c, false, &body); r != kOk) return r;
  if (int r = c.Connect(); r != kOk) return r;
  auto u = c.Send("POST", "/api/v1/users", body);
  if (!u) return c.rc;
  if (c.args.json) {
    PrintJson(*u);
  } else {
    PrintUserLine("added", *u);
  }
  return kOk;
}

int UserUpdate(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl user update", kUserUpdateHelp,
                   {"--active", "--inactive", "--banned", "--unbanned"},
                   {"--first-name", "--last-name", "--valid-from", "--valid-until"}, 1, 1,
                   "no external id given");
  if (rc != kOk) return Done(rc);
  json body = json::object();
  if (int r = UserFields(c, true, &body); r != kOk) return r;
  if (body.empty()) {
    return ctl::UsageError(c.prog, "nothing to change: give at least one option", c.help);
  }
  if (int r = c.Connect(); r != kOk) return r;
  auto u = c.Send("PATCH", Path("users", c.args.positional[0]), body);
  if (!u) return c.rc;
  if (c.args.json) {
    PrintJson(*u);
  } else {
    PrintUserLine("updated", *u);
  }
  return kOk;
}

int UserList(int argc, char** argv) {
  ApiCommand c;
  int rc = Start(&c, argc, argv, "facegatectl user list", kUserListHelp, {},
                 {"--query", "--source"}, 0, 0, "");
  if (rc != kOk) return Done(rc);
  auto users = c.GetAll("/api/v1/users" + ctl::QueryString({{"query", c.args.Value("--query")},
                                                            {"source", c.args.Value("--source")}}));
  if (!users) return c.rc;
  if (c.args.json) {
    PrintJson({{"users", *users}});
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& u : *users) {
    const std::string name = FullName(u);
    rows.push_back({std::to_string(u.value("id", int64_t{0})), Str(u, "external_id"),
                    name.empty() ? "-" : name, UserState(u), Str(u, "valid_from"),
                    Str(u, "valid_until"), Str(u, "source")});
  }
  ctl::PrintTable({"ID", "EXTERNAL_ID", "NAME", "STATE", "VALID_FROM", "VALID_UNTIL", "SOURCE"},
                  rows);
  return kOk;
}

std::string RightHolder(const json& r) {
  return r["user"].is_string() ? "user:" + r["user"].get<std::string>()
                               : "group:" + Str(r, "group", "?");
}

int UserShow(int argc, char** argv) {
  ApiCommand c;
  int rc = Start(&c, argc, argv, "facegatectl user show", kUserShowHelp, {}, {}, 1, 1,
                 "no external id given");
  if (rc != kOk) return Done(rc);
  const std::string& ext = c.args.positional[0];
  auto u = c.Get(Path("users", ext));
  if (!u) return c.rc;
  auto faces = c.GetAll(Path("users", ext) + "/faces");
  if (!faces) return c.rc;
  auto rights = c.GetAll("/api/v1/rights" + ctl::QueryString({{"user", ext}}));
  if (!rights) return c.rc;
  for (auto& t : *faces) t["current_model"] = Str(t, "model_version") == face::kModelVersion;
  if (c.args.json) {
    json j = *u;
    j["rights"] = *rights;
    j["templates"] = *faces;
    PrintJson(j);
    return kOk;
  }
  const std::string name = FullName(*u);
  std::printf("user %s (id %lld)\n", Str(*u, "external_id").c_str(),
              static_cast<long long>(u->value("id", int64_t{0})));
  std::printf("  name:     %s\n", name.empty() ? "-" : name.c_str());
  std::printf("  state:    %s\n", UserState(*u).c_str());
  std::printf("  valid:    %s .. %s\n",
              ctl::TimeText(TimeOf(*u, "valid_from"), "since ever").c_str(),
              ctl::TimeText(TimeOf(*u, "valid_until"), "for ever").c_str());
  std::printf("  source:   %s\n", Str(*u, "source").c_str());
  std::printf("  created:  %s, updated %s\n", Str(*u, "created_at").c_str(),
              Str(*u, "updated_at").c_str());
  std::string gl;
  if (u->contains("groups") && (*u)["groups"].is_array()) {
    for (const auto& g : (*u)["groups"]) {
      if (g.is_string()) gl += (gl.empty() ? "" : ", ") + g.get<std::string>();
    }
  }
  std::printf("  groups:   %s\n", gl.empty() ? "none" : gl.c_str());
  std::printf("  rights:   %zu direct", rights->size());
  bool first = true;
  for (const auto& r : *rights) {
    std::printf("%s door %s (%s, right %lld)", first ? ":" : ",", Str(r, "door").c_str(),
                Str(r, "schedule", "any time").c_str(),
                static_cast<long long>(r.value("id", int64_t{0})));
    first = false;
  }
  std::printf("%s\n", gl.empty() ? "" : "; see also: facegatectl right list --user");
  std::printf("  face templates: %zu\n", faces->size());
  for (const auto& t : *faces) {
    std::printf("    %lld  %s  %s%s  key %lld  %s  quality %s\n",
                static_cast<long long>(t.value("id", int64_t{0})), Str(t, "source").c_str(),
                Str(t, "model_version").c_str(),
                t.value("current_model", true) ? "" : " (re-enroll)",
                static_cast<long long>(t.value("key_id", int64_t{0})), Str(t, "created_at").c_str(),
                t.contains("quality") ? t["quality"].dump().c_str() : "{}");
  }
  return kOk;
}

int UserErase(int argc, char** argv) {
  ApiCommand c;
  int rc = Start(&c, argc, argv, "facegatectl user erase", kUserEraseHelp, {"--yes"}, {}, 1, 1,
                 "no external id given");
  if (rc != kOk) return Done(rc);
  const std::string& ext = c.args.positional[0];
  auto u = c.Get(Path("users", ext));
  if (!u) return c.rc;
  const std::string what = "erase user " + Quoted(ext) + " and their " +
                           std::to_string(u->value("faces", 0)) + " face template(s)";
  if (int r = ctl::Confirm(c.prog, what, c.args.Has("--yes")); r != kOk) return r;
  auto report = c.Call("DELETE", Path("users", ext));
  if (!report) return c.rc;
  json j = report->json;
  j["user_deleted"] = j.value("erased", false);
  if (c.args.json) {
    PrintJson(j);
    return kOk;
  }
  std::printf("user %s erased: %d face template(s) deleted\n", ext.c_str(),
              j.value("templates_deleted", 0));
  if (j.value("wal_truncated", false)) {
    std::printf(
        "the WAL was checkpointed and truncated: no erased byte remains in the database "
        "files\n");
  } else {
    std::printf(
        "the WAL could not be truncated now (another process was reading): the erased bytes "
        "are zeroed in the database pages and leave the -wal file at the next checkpoint\n");
  }
  std::printf(
      "access events keep the external id until their retention period ends; earlier backups "
      "still hold the user\n");
  return kOk;
}

int UserExport(int argc, char** argv) {
  ApiCommand c;
  int rc = Start(&c, argc, argv, "facegatectl user export", kUserExportHelp, {}, {"--output"}, 1, 1,
                 "no external id given");
  if (rc != kOk) return Done(rc);
  auto doc = c.Get(Path("users", c.args.positional[0]) + "/export");
  if (!doc) return c.rc;
  if (int r = ctl::Output(c, doc->dump(2) + "\n"); r != kOk) return r;
  if (auto file = c.args.Value("--output"); file && !c.args.json) {
    std::fprintf(stderr, "%s: user %s exported to %s\n", c.prog.c_str(),
                 c.args.positional[0].c_str(), file->c_str());
  }
  return kOk;
}

// ---------------------------------------------------------------- doors

int DoorAdd(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl door add", kDoorAddHelp, {"--require-pad"},
                   {"--name", "--security-level", "--pad-min-score"}, 1, 1, "no external id given");
  if (rc != kOk) return Done(rc);
  json body = {{"external_id", c.args.positional[0]}};
  if (auto v = c.args.Value("--name")) body["name"] = *v;
  // Only what was asked is written: an unset level follows the config's default, so changing
  // face.matching.security_level changes every door that did not choose its own.
  json settings = json::object();
  if (auto v = c.args.Value("--security-level")) {
    auto level = face::ParseSecurityLevel(*v);
    if (!level) {
      return ctl::UsageError(
          c.prog, "--security-level: expected normal, high or highest, got " + Quoted(*v), c.help);
    }
    settings["security_level"] = face::SecurityLevelName(*level);
  }
  if (c.args.Has("--require-pad")) settings["require_pad"] = true;
  if (auto v = c.args.Value("--pad-min-score")) {
    auto x = ctl::ParseDouble(*v);
    if (!x || *x < 0 || *x > 1) {
      return ctl::UsageError(
          c.prog, "--pad-min-score: expected a number from 0 to 1, got " + Quoted(*v), c.help);
    }
    settings["pad_min_score"] = *x;
  }
  body["settings"] = settings;
  if (int r = c.Connect(); r != kOk) return r;
  auto d = c.Send("POST", "/api/v1/doors", body);
  if (!d) return c.rc;
  if (c.args.json) {
    PrintJson(*d);
  } else {
    const std::string name = Str(*d, "name", "");
    std::printf("door %s added (id %lld)%s%s, policy %s\n", Str(*d, "external_id").c_str(),
                static_cast<long long>(d->value("id", int64_t{0})), name.empty() ? "" : ": ",
                name.c_str(), settings.empty() ? "the defaults" : (*d)["settings"].dump().c_str());
  }
  return kOk;
}

int DoorList(int argc, char** argv) {
  ApiCommand c;
  int rc = Start(&c, argc, argv, "facegatectl door list", kDoorListHelp, {}, {}, 0, 0, "");
  if (rc != kOk) return Done(rc);
  auto doors = c.GetAll("/api/v1/doors");
  if (!doors) return c.rc;
  if (c.args.json) {
    PrintJson({{"doors", *doors}});
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : *doors) {
    const json st = d.value("settings", json::object());
    std::string level = Str(st, "security_level", "default");
    std::string pad = "-";
    if (st.value("require_pad", false)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "required (min %.2f)", st.value("pad_min_score", 0.5));
      pad = buf;
    }
    rows.push_back({std::to_string(d.value("id", int64_t{0})), Str(d, "external_id"),
                    Str(d, "name"), level, pad, Str(d, "source")});
  }
  ctl::PrintTable({"ID", "EXTERNAL_ID", "NAME", "SECURITY_LEVEL", "PAD", "SOURCE"}, rows);
  return kOk;
}

// ---------------------------------------------------------------- groups

int GroupAdd(int argc, char** argv) {
  ApiCommand c;
  int rc = Start(&c, argc, argv, "facegatectl group add", kGroupAddHelp, {}, {"--name"}, 1, 1,
                 "no external id given");
  if (rc != kOk) return Done(rc);
  json body = {{"external_id", c.args.positional[0]}};
  if (auto v = c.args.Value("--name")) body["name"] = *v;
  auto g = c.Send("POST", "/api/v1/groups", body);
  if (!g) return c.rc;
  if (c.args.json) {
    PrintJson(*g);
  } else {
    std::printf("group %s added (id %lld)\n", Str(*g, "external_id").c_str(),
                static_cast<long long>(g->value("id", int64_t{0})));
  }
  return kOk;
}

int GroupList(int argc, char** argv) {
  ApiCommand c;
  int rc = Start(&c, argc, argv, "facegatectl group list", kGroupListHelp, {}, {}, 0, 0, "");
  if (rc != kOk) return Done(rc);
  auto groups = c.GetAll("/api/v1/groups");
  if (!groups) return c.rc;
  std::vector<std::vector<std::string>> rows;
  for (auto& g : *groups) {
    // The list has no member counts; one group's answer has (groups are few).
    auto one = c.Get(Path("groups", Str(g, "external_id", "")));
    if (!one) return c.rc;
    g["members"] = one->value("members", 0);
    rows.push_back({std::to_string(g.value("id", int64_t{0})), Str(g, "external_id"),
                    Str(g, "name"), std::to_string(g.value("members", 0)), Str(g, "source")});
  }
  if (c.args.json) {
    PrintJson({{"groups", *groups}});
  } else {
    ctl::PrintTable({"ID", "EXTERNAL_ID", "NAME", "MEMBERS", "SOURCE"}, rows);
  }
  return kOk;
}

int GroupMember(int argc, char** argv) {
  const std::string verb = argc > 0 ? argv[0] : "";
  if (verb == "-h" || verb == "--help") {
    std::fputs(kGroupMemberHelp, stdout);
    return kOk;
  }
  if (verb != "add" && verb != "remove" && verb != "list") {
    return ctl::UsageError(
        "facegatectl group member",
        verb.empty() ? "expected add, remove or list" : "unknown command " + Quoted(verb),
        kGroupMemberHelp);
  }
  const size_t n = verb == "list" ? 1 : 2;
  ApiCommand c;
  int rc = Start(&c, argc - 1, argv + 1, "facegatectl group member " + verb, kGroupMemberHelp, {},
                 {}, n, n, n == 1 ? "expected GROUP" : "expected GROUP and USER");
  if (rc != kOk) return Done(rc);
  const std::string& group = c.args.positional[0];
  if (verb == "list") {
    auto members = c.GetAll(Path("groups", group) + "/members");
    if (!members) return c.rc;
    json out = json::array();
    for (const auto& m : *members) {
      out.push_back(Str(m, "external_id", ""));
      if (!c.args.json) std::printf("%s\n", Str(m, "external_id", "").c_str());
    }
    if (c.args.json) PrintJson({{"group", group}, {"members", out}});
    return kOk;
  }
  const std::string& user = c.args.positional[1];
  const std::string path = Path("groups", group) + "/members/" + UrlEncode(user);
  auto r = c.Call(verb == "add" ? "PUT" : "DELETE", path);
  if (!r) return c.rc;
  const std::string who = "user " + Quoted(user), where = "group " + Quoted(group);
  if (verb == "add" && !r->json.value("added", true)) {
    std::fprintf(stderr, "%s: %s is a member of %s already\n", c.prog.c_str(), who.c_str(),
                 where.c_str());
    return ctl::kConflict;
  }
  if (c.args.json) {
    PrintJson({{"group", group}, {"user", user}, {"member", verb == "add"}});
  } else {
    std::printf("%s %s %s\n", who.c_str(), verb == "add" ? "added to" : "removed from",
                where.c_str());
  }
  return kOk;
}

// ---------------------------------------------------------------- schedules

// "DAYS:HH:MM-HH:MM" with DAYS a day, a span (mon-fri) or a list (sat,sun) of them, as the
// ranges of a request body: one {"day","start","end"} per day. Checked here so that a typo is
// a usage error before anything is sent (the server checks again).
Result<json> ParseRange(std::string_view text) {
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("--range " + Quoted(text) + ": " + why);
  };
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return bad("expected DAY:HH:MM-HH:MM");
  const std::string_view days = text.substr(0, colon);
  const std::string_view times = text.substr(colon + 1);
  const size_t dash = times.find('-');
  if (dash == std::string_view::npos) return bad("expected DAY:HH:MM-HH:MM");
  auto start = access::ParseClock(times.substr(0, dash), false);
  auto end = access::ParseClock(times.substr(dash + 1), true);
  if (!start || !end) return bad("times are HH:MM, 00:00 to 23:59 (24:00 as the end)");
  if (*end <= *start) {
    return bad(
        "the end is not after the start; a range never crosses midnight: write two, "
        "e.g. mon:22:00-24:00 and tue:00:00-06:00");
  }
  auto day_list = access::ParseDays(days);
  if (!day_list) {
    // The message names the first item that is not a day, as the user typed it.
    std::string_view item = days;
    for (size_t pos = 0; pos <= days.size();) {
      size_t comma = days.find(',', pos);
      if (comma == std::string_view::npos) comma = days.size();
      item = days.substr(pos, comma - pos);
      if (!access::ParseDays(item)) break;
      pos = comma + 1;
    }
    return bad("unknown day " + Quoted(item) +
               ": expected mon..sun, holiday, special1, special2 or 1..10, a span such as "
               "mon-fri or a list such as sat,sun");
  }
  json out = json::array();
  for (int d : *day_list) {
    out.push_back(
        {{"day", d}, {"start", access::ClockText(*start)}, {"end", access::ClockText(*end)}});
  }
  return out;
}

// Adds "range" (in --range syntax) to each range of a schedule the server answered.
std::string AnnotateRanges(json* schedule) {
  std::string all;
  if (!schedule->contains("ranges") || !(*schedule)["ranges"].is_array()) return all;
  for (auto& r : (*schedule)["ranges"]) {
    const int day = r.value("day", 0);
    const std::string text =
        std::string(access::DayName(day)) + ":" + Str(r, "start", "?") + "-" + Str(r, "end", "?");
    r["range"] = text;
    all += (all.empty() ? "" : " ") + text;
  }
  return all;
}

int ScheduleAdd(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl schedule add", kScheduleAddHelp, {},
                   {"--name", "--calendar", "--range"}, 1, 1, "no external id given");
  if (rc != kOk) return Done(rc);
  json body = {{"external_id", c.args.positional[0]},
               {"calendar", c.args.Value("--calendar").value_or("default")},
               {"ranges", json::array()}};
  if (auto v = c.args.Value("--name")) body["name"] = *v;
  if (body["calendar"].get<std::string>().empty()) {
    return ctl::UsageError(c.prog, "--calendar is empty", c.help);
  }
  const auto ranges = c.args.Values("--range");
  if (ranges.empty()) {
    return ctl::UsageError(c.prog, "give at least one --range DAY:HH:MM-HH:MM", c.help);
  }
  for (const auto& text : ranges) {
    auto parsed = ParseRange(text);
    if (!parsed.ok()) return ctl::UsageError(c.prog, parsed.status().message(), c.help);
    for (auto& r : *parsed) body["ranges"].push_back(std::move(r));
  }
  if (int r = c.Connect(); r != kOk) return r;
  auto sc = c.Send("POST", "/api/v1/schedules", body);
  if (!sc) return c.rc;
  const std::string rs = AnnotateRanges(&*sc);
  if (c.args.json) {
    PrintJson(*sc);
  } else {
    std::printf("schedule %s added (id %lld, calendar %s): %s\n", Str(*sc, "external_id").c_str(),
                static_cast<long long>(sc->value("id", int64_t{0})), Str(*sc, "calendar").c_str(),
                rs.c_str());
  }
  return kOk;
}

int ScheduleList(int argc, char** argv) {
  ApiCommand c;
  int rc = Start(&c, argc, argv, "facegatectl schedule list", kScheduleListHelp, {}, {}, 0, 0, "");
  if (rc != kOk) return Done(rc);
  auto schedules = c.GetAll("/api/v1/schedules");
  if (!schedules) return c.rc;
  std::vector<std::vector<std::string>> rows;
  for (auto& sc : *schedules) {
    const std::string rs = AnnotateRanges(&sc);
    rows.push_back({std::to_string(sc.value("id", int64_t{0})), Str(sc, "external_id"),
                    Str(sc, "name"), Str(sc, "calendar"), rs.empty() ? "(none: never)" : rs,
                    Str(sc, "source")});
  }
  if (c.args.json) {
    PrintJson({{"schedules", *schedules}});
  } else {
    ctl::PrintTable({"ID", "EXTERNAL_ID", "NAME", "CALENDAR", "RANGES", "SOURCE"}, rows);
  }
  return kOk;
}

// ---------------------------------------------------------------- holidays

int HolidayAdd(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl holiday add", kHolidayAddHelp, {},
                   {"--day-type", "--name"}, 2, 2, "expected CALENDAR and YYYY-MM-DD");
  if (rc != kOk) return Done(rc);
  const std::string& calendar = c.args.positional[0];
  const std::string& date = c.args.positional[1];
  if (calendar.empty()) return ctl::UsageError(c.prog, "the calendar is empty", c.help);
  if (!access::IsHolidayDate(date)) {
    return ctl::UsageError(c.prog, "expected a date YYYY-MM-DD, got " + Quoted(date), c.help);
  }
  json body = {{"calendar", calendar}, {"date", date}};
  if (auto v = c.args.Value("--name")) body["name"] = *v;
  if (auto v = c.args.Value("--day-type")) {
    auto t = ctl::ParseInt(*v, store::kHolidayDayType, store::kSpecialDay2Type);
    if (!t) {
      return ctl::UsageError(c.prog, "--day-type: expected 8, 9 or 10, got " + Quoted(*v), c.help);
    }
    body["day_type"] = *t;
  }
  if (int r = c.Connect(); r != kOk) return r;
  auto h = c.Send("POST", "/api/v1/holidays", body);
  if (!h) return c.rc;
  if (c.args.json) {
    PrintJson(*h);
  } else {
    const std::string name = Str(*h, "name", "");
    std::printf("holiday %s added to calendar %s (day type %d)%s%s\n", date.c_str(),
                calendar.c_str(), h->value("day_type", 8), name.empty() ? "" : ": ", name.c_str());
  }
  return kOk;
}

int HolidayList(int argc, char** argv) {
  ApiCommand c;
  int rc = Start(&c, argc, argv, "facegatectl holiday list", kHolidayListHelp, {}, {"--calendar"},
                 0, 0, "");
  if (rc != kOk) return Done(rc);
  // Not paged by cursor: every holiday up to the limit.
  auto page =
      c.Get("/api/v1/holidays?limit=1000" +
            (c.args.Value("--calendar") ? "&calendar=" + UrlEncode(*c.args.Value("--calendar"))
                                        : std::string()));
  if (!page) return c.rc;
  json items = page->value("items", json::array());
  if (c.args.json) {
    PrintJson({{"holidays", items}});
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : items) {
    rows.push_back({Str(h, "calendar"), Str(h, "date"), std::to_string(h.value("day_type", 8)),
                    Str(h, "name"), Str(h, "source")});
  }
  ctl::PrintTable({"CALENDAR", "DATE", "DAY_TYPE", "NAME", "SOURCE"}, rows);
  return kOk;
}

// ---------------------------------------------------------------- rights

int RightAdd(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl right add", kRightAddHelp, {},
                   {"--user", "--group", "--door", "--schedule"}, 0, 0, "");
  if (rc != kOk) return Done(rc);
  const auto user = c.args.Value("--user"), group = c.args.Value("--group");
  const auto door = c.args.Value("--door"), schedule = c.args.Value("--schedule");
  if (user.has_value() == group.has_value()) {
    return ctl::UsageError(c.prog, "give exactly one of --user and --group", c.help);
  }
  if (!door) return ctl::UsageError(c.prog, "--door is required", c.help);
  json body = {{"door", *door}};
  if (user) body["user"] = *user;
  if (group) body["group"] = *group;
  if (schedule) body["schedule"] = *schedule;
  if (int r = c.Connect(); r != kOk) return r;
  auto right = c.Send("POST", "/api/v1/rights", body);
  if (!right) return c.rc;
  if (c.args.json) {
    PrintJson(*right);
  } else {
    const std::string holder = user ? "user " + *user : "group " + *group;
    std::printf("right %lld added: %s may pass door %s %s\n",
                static_cast<long long>(right->value("id", int64_t{0})), holder.c_str(),
                door->c_str(), schedule ? ("within schedule " + *schedule).c_str() : "at any time");
  }
  return kOk;
}

int RightList(int argc, char** argv) {
  ApiCommand c;
  int rc = Start(&c, argc, argv, "facegatectl right list", kRightListHelp, {},
                 {"--user", "--group", "--door"}, 0, 0, "");
  if (rc != kOk) return Done(rc);
  const auto user = c.args.Value("--user"), group = c.args.Value("--group");
  const auto door = c.args.Value("--door");
  auto rights = c.GetAll("/api/v1/rights" +
                         ctl::QueryString({{"user", user}, {"group", group}, {"door", door}}));
  if (!rights) return c.rc;
  if (user && !group) {
    // The user's groups' rights apply too.
    auto u = c.Get(Path("users", *user));
    if (!u) return c.rc;
    for (const auto& g : u->value("groups", json::array())) {
      if (!g.is_string()) continue;
      auto via = c.GetAll("/api/v1/rights" +
                          ctl::QueryString({{"group", g.get<std::string>()}, {"door", door}}));
      if (!via) return c.rc;
      for (auto& r : *via) {
        r["via_group"] = g;
        rights->push_back(std::move(r));
      }
    }
  }
  if (c.args.json) {
    PrintJson({{"rights", *rights}});
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : *rights) {
    rows.push_back({std::to_string(r.value("id", int64_t{0})),
                    RightHolder(r) + (r.contains("via_group") ? " (via)" : ""), Str(r, "door"),
                    Str(r, "schedule", "any time"), Str(r, "source")});
  }
  ctl::PrintTable({"ID", "HOLDER", "DOOR", "SCHEDULE", "SOURCE"}, rows);
  return kOk;
}

int RightRemove(int argc, char** argv) {
  ApiCommand c;
  int rc = c.Parse(argc, argv, "facegatectl right remove", kRightRemoveHelp, {}, {}, 1, 1,
                   "no right id given");
  if (rc != kOk) return Done(rc);
  auto id = ctl::ParseInt(c.args.positional[0], 1, INT64_MAX);
  if (!id) {
    return ctl::UsageError(
        c.prog, "expected a right id (a positive number), got " + Quoted(c.args.positional[0]),
        c.help);
  }
  if (int r = c.Connect(); r != kOk) return r;
  auto r = c.Call("DELETE", "/api/v1/rights/" + std::to_string(*id));
  if (!r) return c.rc;
  if (c.args.json) {
    PrintJson({{"id", *id}, {"removed", true}});
  } else {
    std::printf("right %lld removed\n", static_cast<long long>(*id));
  }
  return kOk;
}

// ---------------------------------------------------------------- dispatch

struct Subcommand {
  const char* name;
  int (*run)(int, char**);
};

int Dispatch(const char* group, const char* help, std::initializer_list<Subcommand> subs, int argc,
             char** argv) {
  const std::string cmd = argc > 0 ? argv[0] : "";
  for (const auto& s : subs) {
    if (cmd == s.name) return s.run(argc - 1, argv + 1);
  }
  if (cmd == "-h" || cmd == "--help") {
    std::fputs(help, stdout);
    return kOk;
  }
  if (cmd.empty()) {
    std::fputs(help, stderr);
  } else {
    std::fprintf(stderr, "facegatectl %s: unknown command '%s'\n\n%s", group, cmd.c_str(), help);
  }
  return kUsage;
}

}  // namespace

bool IsSiteCommand(const std::string& group) {
  return group == "user" || group == "door" || group == "group" || group == "schedule" ||
         group == "holiday" || group == "right";
}

// argv[0] is the first argument after the group ("user", "door", ...).
int RunSiteCommand(const std::string& group, int argc, char** argv) {
  if (group == "user") {
    return Dispatch("user", kUserHelp,
                    {{"add", UserAdd},
                     {"update", UserUpdate},
                     {"list", UserList},
                     {"show", UserShow},
                     {"erase", UserErase},
                     {"export", UserExport}},
                    argc, argv);
  }
  if (group == "door") {
    return Dispatch("door", kDoorHelp, {{"add", DoorAdd}, {"list", DoorList}}, argc, argv);
  }
  if (group == "group") {
    return Dispatch("group", kGroupHelp,
                    {{"add", GroupAdd}, {"list", GroupList}, {"member", GroupMember}}, argc, argv);
  }
  if (group == "schedule") {
    return Dispatch("schedule", kScheduleHelp, {{"add", ScheduleAdd}, {"list", ScheduleList}}, argc,
                    argv);
  }
  if (group == "holiday") {
    return Dispatch("holiday", kHolidayHelp, {{"add", HolidayAdd}, {"list", HolidayList}}, argc,
                    argv);
  }
  if (group == "right") {
    return Dispatch("right", kRightHelp,
                    {{"add", RightAdd}, {"list", RightList}, {"remove", RightRemove}}, argc, argv);
  }
  return kUsage;
}

}  // namespace facegate::app
