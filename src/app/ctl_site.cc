// `facegatectl user|door|group|schedule|holiday|right ...`: a site set up by hand, on the
// daemon's host, as the daemon's user, by writing the store directly. These are the minimal
// local commands the terminals issue asks for until the admin API exists; they then move
// behind it. facegated notices what they write by itself (SQLite's data version for the
// access model, the template change log for faces), so it keeps running meanwhile.
//
// Records are named by their external ids (the access-control system's ids, or ones the
// admin chooses); the store's internal ids are shown but never needed, except for rights,
// which have no external id. Output: text, or one JSON document with --json.
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl_common.h"
#include "facegate/core/time_format.h"
#include "facegate/face/matching.h"
#include "facegate/store/store.h"

namespace facegate::app {
namespace {

using ctl::Args;
using ctl::kFailure;
using ctl::kHelpShown;
using ctl::kOk;
using ctl::kUsage;
using json = nlohmann::json;
using store::WallTime;

// ---------------------------------------------------------------- help texts

// The options every command here takes, spliced into the help texts.
#define FG_COMMON_OPTIONS                                                                  \
  "  --config FILE   facegated configuration file (default /etc/facegate/facegate.json)\n" \
  "  --json          one JSON document on stdout\n"                                        \
  "  -h, --help      show this help\n"

constexpr const char* kUserHelp =
    "Usage: facegatectl user COMMAND [ARGS] [--config FILE] [--json]\n"
    "\n"
    "The people Facegate knows, on this host's store (run as the daemon's user).\n"
    "\n"
    "Commands:\n"
    "  add EXTERNAL_ID      add a user\n"
    "  update EXTERNAL_ID   change a user's names, validity or state\n"
    "  list                 every user, with the number of face templates\n"
    "  show EXTERNAL_ID     one user: groups, rights, face templates (metadata only)\n"
    "  erase EXTERNAL_ID    GDPR erasure: the user and every face template of theirs\n"
    "\n"
    "Run 'facegatectl user COMMAND --help' for a command's options.\n";

constexpr const char* kUserAddHelp =
    "Usage: facegatectl user add EXTERNAL_ID [--first-name N] [--last-name N]\n"
    "                            [--valid-from T] [--valid-until T] [--inactive] [--banned]\n"
    "                            [--config FILE] [--json]\n"
    "\n"
    "Adds a user (source: local). Enroll their face with 'facegatectl face enroll' and give\n"
    "them rights with 'facegatectl right add' or a group ('facegatectl group member add').\n"
    "\n"
    "Options:\n"
    "  --first-name N, --last-name N\n"
    "  --valid-from T, --valid-until T\n"
    "                  RFC 3339 times (2026-12-01T08:00:00Z, or with an offset such as\n"
    "                  +01:00); without them the user is valid since ever, for ever\n"
    "  --inactive      the user exists but is refused at every door\n"
    "  --banned        refused at every door (reason user_banned)\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 added, 1 the user exists or the store failed, 2 usage error.\n";

constexpr const char* kUserUpdateHelp =
    "Usage: facegatectl user update EXTERNAL_ID [--first-name N] [--last-name N]\n"
    "                               [--valid-from T|none] [--valid-until T|none]\n"
    "                               [--active|--inactive] [--banned|--unbanned]\n"
    "                               [--config FILE] [--json]\n"
    "\n"
    "Changes what is given and keeps the rest. 'none' clears a validity bound. Users owned\n"
    "by the access-control system's sync (source ship) are changed there, not here.\n"
    "\n"
    "Options:\n"
    "  --first-name N, --last-name N\n"
    "  --valid-from T|none, --valid-until T|none   RFC 3339 times\n"
    "  --active, --inactive\n"
    "  --banned, --unbanned\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 updated, 1 no such user (or owned by the sync), 2 usage error.\n";

constexpr const char* kUserListHelp =
    "Usage: facegatectl user list [--config FILE] [--json]\n"
    "\n"
    "Every user: external id, name, state, validity, number of face templates, source.\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 the store could not be read, 2 usage error.\n";

constexpr const char* kUserShowHelp =
    "Usage: facegatectl user show EXTERNAL_ID [--config FILE] [--json]\n"
    "\n"
    "One user: names, state, validity, groups, direct rights, and the metadata of their face\n"
    "templates (id, source, model version, key, quality values, creation time). Template\n"
    "values are never shown.\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 shown, 1 no such user, 2 usage error.\n";

constexpr const char* kUserEraseHelp =
    "Usage: facegatectl user erase EXTERNAL_ID [--yes] [--config FILE] [--json]\n"
    "\n"
    "The GDPR erasure: deletes the user, their memberships and rights and every face\n"
    "template of theirs in one transaction, then checkpoints the database's WAL so that no\n"
    "erased byte remains in its files (secure_delete zeroes the freed pages). Access events\n"
    "keep the external id until their retention period ends. Backups made before still hold\n"
    "the user: they expire with the backups' own retention.\n"
    "\n"
    "Options:\n"
    "  --yes           proceed without asking (required when stdin is not a "
    "terminal)\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 erased, 1 no such user or the store failed, 2 usage error or --yes\n"
    "missing.\n";

constexpr const char* kDoorHelp =
    "Usage: facegatectl door COMMAND [ARGS] [--config FILE] [--json]\n"
    "\n"
    "Commands:\n"
    "  add EXTERNAL_ID   add a door, with its face policy\n"
    "  list              every door and its policy\n"
    "\n"
    "Run 'facegatectl door COMMAND --help' for a command's options.\n";

constexpr const char* kDoorAddHelp =
    "Usage: facegatectl door add EXTERNAL_ID [--name N] [--security-level LEVEL]\n"
    "                            [--require-pad] [--pad-min-score X] [--config FILE] [--json]\n"
    "\n"
    "Adds a door. EXTERNAL_ID is the access-control system's door id (Salto's ExtDoorID),\n"
    "which facegated opens on a grant. The policy options are stored in the door's settings.\n"
    "\n"
    "Options:\n"
    "  --name N              a name for people\n"
    "  --security-level L    normal, high or highest: the match threshold at this door\n"
    "                        (default: the config's face.matching.security_level)\n"
    "  --require-pad         deny (presentation_attack) captures whose terminal sends no\n"
    "                        presentation-attack score, or a score below --pad-min-score\n"
    "  --pad-min-score X     the lowest PAD score accepted, 0..1 (default 0.5)\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 added, 1 the door exists or the store failed, 2 usage error.\n";

constexpr const char* kDoorListHelp =
    "Usage: facegatectl door list [--config FILE] [--json]\n"
    "\n"
    "Every door: external id, name, security level, PAD policy, source.\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 the store could not be read, 2 usage error.\n";

constexpr const char* kGroupHelp =
    "Usage: facegatectl group COMMAND [ARGS] [--config FILE] [--json]\n"
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
    "Usage: facegatectl group add EXTERNAL_ID [--name N] [--config FILE] [--json]\n"
    "\n"
    "Adds an access group.\n"
    "\n"
    "Options:\n"
    "  --name N        a name for people\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 added, 1 the group exists or the store failed, 2 usage error.\n";

constexpr const char* kGroupListHelp =
    "Usage: facegatectl group list [--config FILE] [--json]\n"
    "\n"
    "Every group: external id, name, number of members, source.\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 the store could not be read, 2 usage error.\n";

constexpr const char* kGroupMemberHelp =
    "Usage: facegatectl group member add GROUP USER [--config FILE] [--json]\n"
    "       facegatectl group member remove GROUP USER [--config FILE] [--json]\n"
    "       facegatectl group member list GROUP [--config FILE] [--json]\n"
    "\n"
    "Adds a user to a group, removes them from it, or lists its members (external ids).\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 done, 1 no such group or user, already a member (add) or not a member\n"
    "(remove), 2 usage error.\n";

constexpr const char* kScheduleHelp =
    "Usage: facegatectl schedule COMMAND [ARGS] [--config FILE] [--json]\n"
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
    "                                [--name N] [--calendar C] [--config FILE] [--json]\n"
    "\n"
    "Adds a schedule with its ranges. DAY is mon, tue, wed, thu, fri, sat or sun (or 1..7,\n"
    "ISO weekdays), holiday (8), special1 (9) or special2 (10); a span such as mon-fri or a\n"
    "list such as sat,sun gives the range to each of those days. A range starts at its first\n"
    "minute and ends before its last (24:00 = until midnight) and never crosses midnight:\n"
    "22:00-06:00 is written as two ranges, e.g. mon:22:00-24:00 and tue:00:00-06:00. On a\n"
    "date of the schedule's holiday calendar the ranges of that holiday's day type apply\n"
    "instead of the weekday's (none: closed that day).\n"
    "\n"
    "Options:\n"
    "  --range R       a range (repeat for more)\n"
    "  --name N        a name for people\n"
    "  --calendar C    the holiday calendar (default \"default\")\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 added, 1 the schedule exists or the store refused it, 2 usage error.\n";

constexpr const char* kScheduleListHelp =
    "Usage: facegatectl schedule list [--config FILE] [--json]\n"
    "\n"
    "Every schedule: external id, name, calendar, ranges (in --range syntax), source.\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 the store could not be read, 2 usage error.\n";

constexpr const char* kHolidayHelp =
    "Usage: facegatectl holiday COMMAND [ARGS] [--config FILE] [--json]\n"
    "\n"
    "Commands:\n"
    "  add CALENDAR YYYY-MM-DD   a date on which that calendar's schedules use a holiday day\n"
    "  list                      every holiday of every calendar\n"
    "\n"
    "Run 'facegatectl holiday COMMAND --help' for a command's options.\n";

constexpr const char* kHolidayAddHelp =
    "Usage: facegatectl holiday add CALENDAR YYYY-MM-DD [--day-type 8|9|10] [--name N]\n"
    "                               [--config FILE] [--json]\n"
    "\n"
    "On that local date, schedules of CALENDAR use their ranges of the day type (8 holiday,\n"
    "9 special day 1, 10 special day 2) instead of the weekday's, for the whole day.\n"
    "\n"
    "Options:\n"
    "  --day-type T    8 (default), 9 or 10\n"
    "  --name N        e.g. \"New Year\"\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 added, 1 the calendar has a holiday on that date already, 2 usage error.\n";

constexpr const char* kHolidayListHelp =
    "Usage: facegatectl holiday list [--config FILE] [--json]\n"
    "\n"
    "Every holiday: calendar, date, day type, name, source.\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 the store could not be read, 2 usage error.\n";

constexpr const char* kRightHelp =
    "Usage: facegatectl right COMMAND [ARGS] [--config FILE] [--json]\n"
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
    "                             [--config FILE] [--json]\n"
    "\n"
    "Gives one user or one group a right to a door, at any time or within a schedule. A\n"
    "holder has at most one right per door. Prints the right's id (for 'right remove').\n"
    "\n"
    "Options:\n"
    "  --user EXT       the user's external id\n"
    "  --group EXT      the group's external id (instead of --user)\n"
    "  --door EXT       the door's external id\n"
    "  --schedule EXT   the schedule's external id (default: at any time)\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 added, 1 an unknown user, group, door or schedule, or the holder has a\n"
    "right to that door already, 2 usage error.\n";

constexpr const char* kRightListHelp =
    "Usage: facegatectl right list [--user EXT] [--group EXT] [--door EXT] [--config FILE]\n"
    "                              [--json]\n"
    "\n"
    "Rights, with their ids. With --user: the user's own rights and those of their groups\n"
    "(marked 'via'), i.e. every door the user may pass.\n"
    "\n"
    "Options:\n"
    "  --user EXT, --group EXT, --door EXT   only these rights (all given must "
    "match)\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 listed, 1 an unknown user, group or door, 2 usage error.\n";

constexpr const char* kRightRemoveHelp =
    "Usage: facegatectl right remove ID [--config FILE] [--json]\n"
    "\n"
    "Takes the right with this id away (ids from 'facegatectl right list').\n"
    "\n"
    "Options:\n" FG_COMMON_OPTIONS
    "\n"
    "Exit status: 0 removed, 1 no such right, 2 usage error.\n";

// ---------------------------------------------------------------- shared pieces

// One command's context: its name for messages and its parsed arguments.
struct Command {
  std::string prog;
  Args args;
};

// Parses argv for `prog`; returns kOk to go on, else the exit code (help: 0).
int Parse(int argc, char** argv, std::string prog, const char* help,
          std::initializer_list<std::string_view> flags,
          std::initializer_list<std::string_view> valued, size_t min_positional,
          size_t max_positional, std::string_view missing, Command* out) {
  out->prog = std::move(prog);
  int rc = ctl::ParseArgs(argc, argv, out->prog, help, flags, valued, &out->args);
  if (rc == kHelpShown) return kHelpShown;
  if (rc != kOk) return rc;
  if (!ctl::ExpectPositional(out->args, min_positional, max_positional, out->prog, missing, help)) {
    return kUsage;
  }
  return kOk;
}

int Done(int rc) { return rc == kHelpShown ? kOk : rc; }

void PrintJson(const json& j) { std::printf("%s\n", j.dump(2).c_str()); }

json TimeJson(const std::optional<WallTime>& t) {
  return t ? json(FormatRfc3339(*t)) : json(nullptr);
}

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

Result<store::AccessGroup> FindGroup(store::Store& s, std::string_view external_id) {
  auto g = s.FindAccessGroupByExternalId(external_id);
  if (!g.ok()) return g.status();
  if (!*g) {
    return Status::NotFound("no group with external id " + Quoted(external_id) +
                            " (facegatectl group list shows the groups)");
  }
  return std::move(**g);
}

Result<store::Schedule> FindSchedule(store::Store& s, std::string_view external_id) {
  auto all = s.ListSchedules();
  if (!all.ok()) return all.status();
  for (auto& sc : *all) {
    if (sc.external_id == external_id) return std::move(sc);
  }
  return Status::NotFound("no schedule with external id " + Quoted(external_id) +
                          " (facegatectl schedule list shows the schedules)");
}

// ---------------------------------------------------------------- users

std::string UserState(const store::User& u) {
  if (u.banned) return u.active ? "banned" : "inactive,banned";
  return u.active ? "active" : "inactive";
}

json UserJson(const store::User& u) {
  return {{"id", u.id},
          {"external_id", u.external_id},
          {"first_name", u.first_name},
          {"last_name", u.last_name},
          {"active", u.active},
          {"banned", u.banned},
          {"valid_from", TimeJson(u.valid_from)},
          {"valid_until", TimeJson(u.valid_until)},
          {"source", store::RecordSourceName(u.source)},
          {"created_at", FormatRfc3339(u.created_at)},
          {"updated_at", FormatRfc3339(u.updated_at)}};
}

std::string FullName(const store::User& u) {
  std::string n = u.first_name;
  if (!u.last_name.empty()) n += (n.empty() ? "" : " ") + u.last_name;
  return n;
}

void PrintUserLine(const char* what, const store::User& u) {
  std::printf("user %s %s (id %lld): %s, %s, valid %s .. %s\n", u.external_id.c_str(), what,
              static_cast<long long>(u.id), FullName(u).empty() ? "no name" : FullName(u).c_str(),
              UserState(u).c_str(), ctl::TimeText(u.valid_from, "since ever").c_str(),
              ctl::TimeText(u.valid_until, "for ever").c_str());
}

// Applies the user options of add/update to `u`. Returns kOk or kUsage (message printed).
int ApplyUserOptions(const Command& c, const char* help, bool update, store::User* u) {
  const Args& a = c.args;
  if (auto v = a.Value("--first-name")) u->first_name = *v;
  if (auto v = a.Value("--last-name")) u->last_name = *v;
  for (const char* name : {"--valid-from", "--valid-until"}) {
    auto v = a.Value(name);
    if (!v) continue;
    std::optional<WallTime> t;
    if (!(update && *v == "none")) {
      t = ParseRfc3339(*v);
      if (!t) {
        return ctl::UsageError(c.prog,
                               std::string(name) +
                                   ": expected an RFC 3339 time such as "
                                   "2026-12-01T08:00:00Z" +
                                   (update ? " (or none)" : "") + ", got " + Quoted(*v),
                               help);
      }
    }
    (std::string_view(name) == "--valid-from" ? u->valid_from : u->valid_until) = t;
  }
  if (a.Has("--active") && a.Has("--inactive")) {
    return ctl::UsageError(c.prog, "--active and --inactive contradict each other", help);
  }
  if (a.Has("--banned") && a.Has("--unbanned")) {
    return ctl::UsageError(c.prog, "--banned and --unbanned contradict each other", help);
  }
  if (a.Has("--active")) u->active = true;
  if (a.Has("--inactive")) u->active = false;
  if (a.Has("--banned")) u->banned = true;
  if (a.Has("--unbanned")) u->banned = false;
  if (u->valid_from && u->valid_until && *u->valid_until <= *u->valid_from) {
    return ctl::UsageError(c.prog,
                           "the user would never be valid: --valid-until (" +
                               FormatRfc3339(*u->valid_until) + ") is not after --valid-from (" +
                               FormatRfc3339(*u->valid_from) + ")",
                           help);
  }
  return kOk;
}

int UserAdd(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl user add", kUserAddHelp, {"--inactive", "--banned"},
                 {"--first-name", "--last-name", "--valid-from", "--valid-until"}, 1, 1,
                 "no external id given", &c);
  if (rc != kOk) return Done(rc);
  store::User u;
  u.external_id = c.args.positional[0];
  u.source = store::RecordSource::kLocal;
  if (int r = ApplyUserOptions(c, kUserAddHelp, false, &u); r != kOk) return r;
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  // UpsertUser would silently overwrite an existing user: "add" must not.
  auto existing = s.FindUserByExternalId(u.external_id);
  if (existing.ok()) {
    return ctl::Fail(c.prog, Status::AlreadyExists("user " + Quoted(u.external_id) +
                                                   " exists (id " + std::to_string(existing->id) +
                                                   "); change it with facegatectl user update"));
  }
  if (existing.status().code() != StatusCode::kNotFound)
    return ctl::Fail(c.prog, existing.status());
  auto id = s.UpsertUser(u);
  if (!id.ok()) return ctl::Fail(c.prog, id.status());
  auto stored = s.GetUser(*id);
  if (!stored.ok()) return ctl::Fail(c.prog, stored.status());
  if (c.args.json) {
    PrintJson(UserJson(*stored));
  } else {
    PrintUserLine("added", *stored);
  }
  return kOk;
}

int UserUpdate(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl user update", kUserUpdateHelp,
                 {"--active", "--inactive", "--banned", "--unbanned"},
                 {"--first-name", "--last-name", "--valid-from", "--valid-until"}, 1, 1,
                 "no external id given", &c);
  if (rc != kOk) return Done(rc);
  if (c.args.flags.empty() && c.args.values.empty()) {
    return ctl::UsageError(c.prog, "nothing to change: give at least one option", kUserUpdateHelp);
  }
  // Check the option values before touching the store (a bad value is a usage error).
  {
    store::User scratch;
    if (int r = ApplyUserOptions(c, kUserUpdateHelp, true, &scratch); r != kOk) return r;
  }
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto u = s.FindUserByExternalId(c.args.positional[0]);
  if (!u.ok()) return ctl::Fail(c.prog, u.status());
  if (u->source != store::RecordSource::kLocal) {
    // The next sync would undo the change without anyone noticing.
    return ctl::Fail(
        c.prog, Status::FailedPrecondition("user " + Quoted(u->external_id) + " is owned by the " +
                                           std::string(store::RecordSourceName(u->source)) +
                                           " sync: change it in the access-control system"));
  }
  store::User changed = *u;
  if (int r = ApplyUserOptions(c, kUserUpdateHelp, true, &changed); r != kOk) {
    return kFailure;  // consistent alone, contradicts what is stored (e.g. the validity)
  }
  auto id = s.UpsertUser(changed);
  if (!id.ok()) return ctl::Fail(c.prog, id.status());
  auto stored = s.GetUser(*id);
  if (!stored.ok()) return ctl::Fail(c.prog, stored.status());
  if (c.args.json) {
    PrintJson(UserJson(*stored));
  } else {
    PrintUserLine("updated", *stored);
  }
  return kOk;
}

Result<std::vector<store::User>> AllUsers(store::Store& s) {
  std::vector<store::User> all;
  int64_t after = 0;
  for (;;) {
    auto page = s.ListUsers(after, 1000);
    if (!page.ok()) return page.status();
    if (page->empty()) return all;
    after = page->back().id;
    for (auto& u : *page) all.push_back(std::move(u));
  }
}

int UserList(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl user list", kUserListHelp, {}, {}, 0, 0, "", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto users = AllUsers(s);
  if (!users.ok()) return ctl::Fail(c.prog, users.status());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& u : *users) {
    auto templates = s.ListTemplatesOfUser(u.id);
    if (!templates.ok()) return ctl::Fail(c.prog, templates.status());
    if (c.args.json) {
      json j = UserJson(u);
      j["templates"] = templates->size();
      out.push_back(std::move(j));
    } else {
      rows.push_back({std::to_string(u.id), u.external_id, FullName(u).empty() ? "-" : FullName(u),
                      UserState(u), ctl::TimeText(u.valid_from), ctl::TimeText(u.valid_until),
                      std::to_string(templates->size()),
                      std::string(store::RecordSourceName(u.source))});
    }
  }
  if (c.args.json) {
    PrintJson({{"users", out}});
  } else {
    ctl::PrintTable(
        {"ID", "EXTERNAL_ID", "NAME", "STATE", "VALID_FROM", "VALID_UNTIL", "TEMPLATES", "SOURCE"},
        rows);
  }
  return kOk;
}

json QualityOf(const std::string& quality_json) {
  json q = json::parse(quality_json, nullptr, false);
  return q.is_discarded() ? json(quality_json) : q;
}

// The names a right's ids stand for, read once per command.
struct Names {
  std::map<int64_t, std::string> doors, groups, schedules, users;

  static Result<Names> Load(store::Store& s) {
    auto data = s.LoadAccessSnapshotData();
    if (!data.ok()) return data.status();
    Names n;
    for (const auto& d : data->doors) n.doors[d.id] = d.external_id;
    for (const auto& g : data->groups) n.groups[g.id] = g.external_id;
    for (const auto& sc : data->schedules) n.schedules[sc.id] = sc.external_id;
    for (const auto& u : data->users) n.users[u.id] = u.external_id;
    return n;
  }
  static std::string Of(const std::map<int64_t, std::string>& m, int64_t id) {
    auto it = m.find(id);
    return it == m.end() ? "#" + std::to_string(id) : it->second;
  }
};

json RightJson(const store::AccessRight& r, const Names& n, std::optional<std::string> via) {
  json j = {
      {"id", r.id},
      {"user", r.user_id ? json(Names::Of(n.users, *r.user_id)) : json(nullptr)},
      {"group", r.group_id ? json(Names::Of(n.groups, *r.group_id)) : json(nullptr)},
      {"door", Names::Of(n.doors, r.door_id)},
      {"schedule", r.schedule_id ? json(Names::Of(n.schedules, *r.schedule_id)) : json(nullptr)},
      {"source", store::RecordSourceName(r.source)},
      {"created_at", FormatRfc3339(r.created_at)}};
  if (via) j["via_group"] = *via;
  return j;
}

std::vector<std::string> RightRow(const store::AccessRight& r, const Names& n, bool via) {
  std::string holder = r.user_id ? "user:" + Names::Of(n.users, *r.user_id)
                                 : "group:" + Names::Of(n.groups, r.group_id.value_or(0));
  if (via) holder += " (via)";
  return {std::to_string(r.id), holder, Names::Of(n.doors, r.door_id),
          r.schedule_id ? Names::Of(n.schedules, *r.schedule_id) : "any time",
          std::string(store::RecordSourceName(r.source))};
}

int UserShow(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl user show", kUserShowHelp, {}, {}, 1, 1,
                 "no external id given", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto u = s.FindUserByExternalId(c.args.positional[0]);
  if (!u.ok()) return ctl::Fail(c.prog, u.status());
  auto templates = s.ListTemplatesOfUser(u->id);
  if (!templates.ok()) return ctl::Fail(c.prog, templates.status());
  auto group_ids = s.ListGroupsOfUser(u->id);
  if (!group_ids.ok()) return ctl::Fail(c.prog, group_ids.status());
  store::AccessRightFilter filter;
  filter.user_id = u->id;
  auto rights = s.ListAccessRights(filter);
  if (!rights.ok()) return ctl::Fail(c.prog, rights.status());
  auto names = Names::Load(s);
  if (!names.ok()) return ctl::Fail(c.prog, names.status());

  json tj = json::array();
  for (const auto& t : *templates) {
    tj.push_back({{"id", t.id},
                  {"source", store::TemplateSourceName(t.source)},
                  {"model_version", t.model_version},
                  {"current_model", t.model_version == face::kModelVersion},
                  {"key_id", t.key_id},
                  {"dimension", t.dimension},
                  {"quality", QualityOf(t.quality_json)},
                  {"created_at", FormatRfc3339(t.created_at)}});
  }
  json groups = json::array();
  for (int64_t g : *group_ids) groups.push_back(Names::Of(names->groups, g));
  json rj = json::array();
  for (const auto& r : *rights) rj.push_back(RightJson(r, *names, std::nullopt));

  if (c.args.json) {
    json j = UserJson(*u);
    j["groups"] = groups;
    j["rights"] = rj;
    j["templates"] = tj;
    PrintJson(j);
    return kOk;
  }
  std::printf("user %s (id %lld)\n", u->external_id.c_str(), static_cast<long long>(u->id));
  std::printf("  name:     %s\n", FullName(*u).empty() ? "-" : FullName(*u).c_str());
  std::printf("  state:    %s\n", UserState(*u).c_str());
  std::printf("  valid:    %s .. %s\n", ctl::TimeText(u->valid_from, "since ever").c_str(),
              ctl::TimeText(u->valid_until, "for ever").c_str());
  std::printf("  source:   %s\n", std::string(store::RecordSourceName(u->source)).c_str());
  std::printf("  created:  %s, updated %s\n", FormatRfc3339(u->created_at).c_str(),
              FormatRfc3339(u->updated_at).c_str());
  std::string gl;
  for (const auto& g : groups) gl += (gl.empty() ? "" : ", ") + g.get<std::string>();
  std::printf("  groups:   %s\n", gl.empty() ? "none" : gl.c_str());
  std::printf("  rights:   %zu direct", rights->size());
  for (const auto& r : *rights) {
    std::printf("%s door %s (%s, right %lld)", &r == &rights->front() ? ":" : ",",
                Names::Of(names->doors, r.door_id).c_str(),
                r.schedule_id ? Names::Of(names->schedules, *r.schedule_id).c_str() : "any time",
                static_cast<long long>(r.id));
  }
  std::printf("%s\n", groups.empty() ? "" : "; see also: facegatectl right list --user");
  std::printf("  face templates: %zu\n", templates->size());
  for (const auto& t : *templates) {
    std::printf("    %lld  %s  %s%s  key %u  %s  quality %s\n", static_cast<long long>(t.id),
                std::string(store::TemplateSourceName(t.source)).c_str(), t.model_version.c_str(),
                t.model_version == face::kModelVersion ? "" : " (re-enroll)", t.key_id,
                FormatRfc3339(t.created_at).c_str(), QualityOf(t.quality_json).dump().c_str());
  }
  return kOk;
}

int UserErase(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl user erase", kUserEraseHelp, {"--yes"}, {}, 1, 1,
                 "no external id given", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto u = s.FindUserByExternalId(c.args.positional[0]);
  if (!u.ok()) return ctl::Fail(c.prog, u.status());
  auto templates = s.ListTemplatesOfUser(u->id);
  if (!templates.ok()) return ctl::Fail(c.prog, templates.status());
  const std::string what = "erase user " + Quoted(u->external_id) + " and their " +
                           std::to_string(templates->size()) + " face template(s)";
  if (int r = ctl::Confirm(c.prog, what, c.args.Has("--yes")); r != kOk) return r;
  auto report = s.EraseUser(u->id);
  if (!report.ok()) return ctl::Fail(c.prog, report.status());
  if (c.args.json) {
    PrintJson({{"external_id", u->external_id},
               {"user_deleted", report->user_deleted},
               {"templates_deleted", report->templates_deleted},
               {"wal_truncated", report->wal_truncated}});
  } else {
    std::printf("user %s erased: %d face template(s) deleted\n", u->external_id.c_str(),
                report->templates_deleted);
    if (report->wal_truncated) {
      std::printf(
          "the WAL was checkpointed and truncated: no erased byte remains in the "
          "database files\n");
    } else {
      std::printf(
          "the WAL could not be truncated now (another connection, e.g. facegated, "
          "was reading): the erased bytes are zeroed in the database pages and leave "
          "the -wal file at the next checkpoint\n");
    }
    std::printf(
        "access events keep the external id until their retention period ends; "
        "earlier backups still hold the user\n");
  }
  return kOk;
}

// ---------------------------------------------------------------- doors

json DoorJson(const store::Door& d) {
  json settings = json::parse(d.settings_json, nullptr, false);
  if (settings.is_discarded()) settings = json::object();
  return {{"id", d.id},
          {"external_id", d.external_id},
          {"name", d.name},
          {"settings", settings},
          {"source", store::RecordSourceName(d.source)}};
}

int DoorAdd(int argc, char** argv) {
  Command c;
  int rc =
      Parse(argc, argv, "facegatectl door add", kDoorAddHelp, {"--require-pad"},
            {"--name", "--security-level", "--pad-min-score"}, 1, 1, "no external id given", &c);
  if (rc != kOk) return Done(rc);
  store::Door d;
  d.external_id = c.args.positional[0];
  d.name = c.args.Value("--name").value_or("");
  // Only what was asked is written: an unset level follows the config's default, so changing
  // face.matching.security_level changes every door that did not choose its own.
  json settings = json::object();
  if (auto v = c.args.Value("--security-level")) {
    auto level = face::ParseSecurityLevel(*v);
    if (!level) {
      return ctl::UsageError(
          c.prog, "--security-level: expected normal, high or highest, got " + Quoted(*v),
          kDoorAddHelp);
    }
    settings["security_level"] = face::SecurityLevelName(*level);
  }
  if (c.args.Has("--require-pad")) settings["require_pad"] = true;
  if (auto v = c.args.Value("--pad-min-score")) {
    auto x = ctl::ParseDouble(*v);
    if (!x || *x < 0 || *x > 1) {
      return ctl::UsageError(c.prog,
                             "--pad-min-score: expected a number from 0 to 1, got " + Quoted(*v),
                             kDoorAddHelp);
    }
    settings["pad_min_score"] = *x;
  }
  d.settings_json = settings.dump();
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto existing = s.FindDoorByExternalId(d.external_id);
  if (!existing.ok()) return ctl::Fail(c.prog, existing.status());
  if (*existing) {
    return ctl::Fail(c.prog,
                     Status::AlreadyExists("door " + Quoted(d.external_id) + " exists (id " +
                                           std::to_string((*existing)->id) + ")"));
  }
  auto id = s.UpsertDoor(d);
  if (!id.ok()) return ctl::Fail(c.prog, id.status());
  d.id = *id;
  if (c.args.json) {
    PrintJson(DoorJson(d));
  } else {
    std::printf("door %s added (id %lld)%s%s, policy %s\n", d.external_id.c_str(),
                static_cast<long long>(d.id), d.name.empty() ? "" : ": ", d.name.c_str(),
                settings.empty() ? "the defaults" : d.settings_json.c_str());
  }
  return kOk;
}

int DoorList(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl door list", kDoorListHelp, {}, {}, 0, 0, "", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  // The store has no door listing of its own; the snapshot read has every door.
  auto data = session->store->LoadAccessSnapshotData();
  if (!data.ok()) return ctl::Fail(c.prog, data.status());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : data->doors) {
    json j = DoorJson(d);
    const json& st = j["settings"];
    std::string level = st.contains("security_level") && st["security_level"].is_string()
                            ? st["security_level"].get<std::string>()
                            : "default";
    std::string pad = "-";
    if (st.value("require_pad", false)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "required (min %.2f)", st.value("pad_min_score", 0.5));
      pad = buf;
    }
    rows.push_back({std::to_string(d.id), d.external_id, d.name.empty() ? "-" : d.name, level, pad,
                    std::string(store::RecordSourceName(d.source))});
    out.push_back(std::move(j));
  }
  if (c.args.json) {
    PrintJson({{"doors", out}});
  } else {
    ctl::PrintTable({"ID", "EXTERNAL_ID", "NAME", "SECURITY_LEVEL", "PAD", "SOURCE"}, rows);
  }
  return kOk;
}

// ---------------------------------------------------------------- groups

int GroupAdd(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl group add", kGroupAddHelp, {}, {"--name"}, 1, 1,
                 "no external id given", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::AccessGroup g;
  g.external_id = c.args.positional[0];
  g.name = c.args.Value("--name").value_or("");
  auto id = session->store->CreateAccessGroup(g);
  if (!id.ok()) return ctl::Fail(c.prog, id.status());
  if (c.args.json) {
    PrintJson({{"id", *id}, {"external_id", g.external_id}, {"name", g.name}, {"source", "local"}});
  } else {
    std::printf("group %s added (id %lld)\n", g.external_id.c_str(), static_cast<long long>(*id));
  }
  return kOk;
}

int GroupList(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl group list", kGroupListHelp, {}, {}, 0, 0, "", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto groups = s.ListAccessGroups();
  if (!groups.ok()) return ctl::Fail(c.prog, groups.status());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& g : *groups) {
    auto members = s.ListGroupMembers(g.id);
    if (!members.ok()) return ctl::Fail(c.prog, members.status());
    out.push_back({{"id", g.id},
                   {"external_id", g.external_id},
                   {"name", g.name},
                   {"members", members->size()},
                   {"source", store::RecordSourceName(g.source)}});
    rows.push_back({std::to_string(g.id), g.external_id, g.name.empty() ? "-" : g.name,
                    std::to_string(members->size()),
                    std::string(store::RecordSourceName(g.source))});
  }
  if (c.args.json) {
    PrintJson({{"groups", out}});
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
  Command c;
  int rc = Parse(argc - 1, argv + 1, "facegatectl group member " + verb, kGroupMemberHelp, {}, {},
                 n, n, n == 1 ? "expected GROUP" : "expected GROUP and USER", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto g = FindGroup(s, c.args.positional[0]);
  if (!g.ok()) return ctl::Fail(c.prog, g.status());
  if (verb == "list") {
    auto members = s.ListGroupMembers(g->id);
    if (!members.ok()) return ctl::Fail(c.prog, members.status());
    json out = json::array();
    for (int64_t id : *members) {
      auto u = s.GetUser(id);
      if (!u.ok()) return ctl::Fail(c.prog, u.status());
      out.push_back(u->external_id);
      if (!c.args.json) std::printf("%s\n", u->external_id.c_str());
    }
    if (c.args.json) PrintJson({{"group", g->external_id}, {"members", out}});
    return kOk;
  }
  auto u = s.FindUserByExternalId(c.args.positional[1]);
  if (!u.ok()) return ctl::Fail(c.prog, u.status());
  const std::string who = "user " + Quoted(u->external_id);
  const std::string group = "group " + Quoted(g->external_id);
  Status st = verb == "add" ? s.AddGroupMember(g->id, u->id) : s.RemoveGroupMember(g->id, u->id);
  // The store names both by internal id; say it with the ids the admin typed.
  if (st.code() == StatusCode::kAlreadyExists) {
    st = Status::AlreadyExists(who + " is a member of " + group + " already");
  } else if (verb == "remove" && st.code() == StatusCode::kNotFound) {
    st = Status::NotFound(who + " is not a member of " + group);
  }
  if (!st.ok()) return ctl::Fail(c.prog, st);
  if (c.args.json) {
    PrintJson({{"group", g->external_id}, {"user", u->external_id}, {"member", verb == "add"}});
  } else {
    std::printf("%s %s %s\n", who.c_str(), verb == "add" ? "added to" : "removed from",
                group.c_str());
  }
  return kOk;
}

// ---------------------------------------------------------------- schedules

constexpr const char* kDayNames[] = {"",    "mon", "tue",     "wed",      "thu",     "fri",
                                     "sat", "sun", "holiday", "special1", "special2"};

std::optional<int> ParseDay(std::string_view s) {
  for (int d = store::kFirstWeekday; d <= store::kSpecialDay2Type; ++d) {
    if (s == kDayNames[d]) return d;
  }
  if (auto n = ctl::ParseInt(s, store::kFirstWeekday, store::kSpecialDay2Type)) {
    return static_cast<int>(*n);
  }
  return std::nullopt;
}

// "HH:MM" -> minutes from midnight; 24:00 only where `allow_midnight_end`.
std::optional<int> ParseClock(std::string_view s, bool allow_midnight_end) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  auto h = ctl::ParseInt(s.substr(0, 2), 0, 24);
  auto m = ctl::ParseInt(s.substr(3, 2), 0, 59);
  if (!h || !m) return std::nullopt;
  const int minute = static_cast<int>(*h * 60 + *m);
  if (minute > store::kMinutesPerDay || (minute == store::kMinutesPerDay && !allow_midnight_end)) {
    return std::nullopt;
  }
  return minute;
}

// "DAYS:HH:MM-HH:MM" with DAYS a day, a span (mon-fri) or a list (sat,sun) of them.
Result<std::vector<store::ScheduleRange>> ParseRange(std::string_view text) {
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("--range " + Quoted(text) + ": " + why);
  };
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return bad("expected DAY:HH:MM-HH:MM");
  const std::string_view days = text.substr(0, colon);
  const std::string_view times = text.substr(colon + 1);
  const size_t dash = times.find('-');
  if (dash == std::string_view::npos) return bad("expected DAY:HH:MM-HH:MM");
  auto start = ParseClock(times.substr(0, dash), false);
  auto end = ParseClock(times.substr(dash + 1), true);
  if (!start || !end) return bad("times are HH:MM, 00:00 to 23:59 (24:00 as the end)");
  if (*end <= *start) {
    return bad(
        "the end is not after the start; a range never crosses midnight: write two, "
        "e.g. mon:22:00-24:00 and tue:00:00-06:00");
  }
  std::vector<int> day_list;
  size_t pos = 0;
  while (pos <= days.size()) {
    size_t comma = days.find(',', pos);
    if (comma == std::string_view::npos) comma = days.size();
    const std::string_view item = days.substr(pos, comma - pos);
    const size_t span = item.find('-');
    auto first = ParseDay(item.substr(0, span));
    auto last = span == std::string_view::npos ? first : ParseDay(item.substr(span + 1));
    if (!first || !last || *last < *first) {
      return bad("unknown day " + Quoted(item) +
                 ": expected mon..sun, holiday, special1, special2 or 1..10, a span such as "
                 "mon-fri or a list such as sat,sun");
    }
    for (int d = *first; d <= *last; ++d) day_list.push_back(d);
    pos = comma + 1;
  }
  std::vector<store::ScheduleRange> out;
  for (int d : day_list) out.push_back({d, *start, *end});
  return out;
}

std::string ClockText(int minute) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

std::string RangeText(const store::ScheduleRange& r) {
  const char* day = r.day >= 1 && r.day <= 10 ? kDayNames[r.day] : "?";
  return std::string(day) + ":" + ClockText(r.start_minute) + "-" + ClockText(r.end_minute);
}

json ScheduleJson(const store::Schedule& sc) {
  json ranges = json::array();
  for (const auto& r : sc.ranges) {
    ranges.push_back({{"day", r.day},
                      {"start", ClockText(r.start_minute)},
                      {"end", ClockText(r.end_minute)},
                      {"range", RangeText(r)}});
  }
  return {{"id", sc.id},      {"external_id", sc.external_id},
          {"name", sc.name},  {"calendar", sc.calendar},
          {"ranges", ranges}, {"source", store::RecordSourceName(sc.source)}};
}

int ScheduleAdd(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl schedule add", kScheduleAddHelp, {},
                 {"--name", "--calendar", "--range"}, 1, 1, "no external id given", &c);
  if (rc != kOk) return Done(rc);
  store::Schedule sc;
  sc.external_id = c.args.positional[0];
  sc.name = c.args.Value("--name").value_or("");
  sc.calendar = c.args.Value("--calendar").value_or("default");
  if (sc.calendar.empty()) return ctl::UsageError(c.prog, "--calendar is empty", kScheduleAddHelp);
  const auto ranges = c.args.Values("--range");
  if (ranges.empty()) {
    return ctl::UsageError(c.prog, "give at least one --range DAY:HH:MM-HH:MM", kScheduleAddHelp);
  }
  for (const auto& text : ranges) {
    auto parsed = ParseRange(text);
    if (!parsed.ok()) return ctl::UsageError(c.prog, parsed.status().message(), kScheduleAddHelp);
    sc.ranges.insert(sc.ranges.end(), parsed->begin(), parsed->end());
  }
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  auto id = s.CreateSchedule(sc);
  if (!id.ok()) return ctl::Fail(c.prog, id.status());
  auto stored = s.GetSchedule(*id);
  if (!stored.ok()) return ctl::Fail(c.prog, stored.status());
  if (*stored) sc = **stored;
  if (c.args.json) {
    PrintJson(ScheduleJson(sc));
  } else {
    std::string rs;
    for (const auto& r : sc.ranges) rs += " " + RangeText(r);
    std::printf("schedule %s added (id %lld, calendar %s):%s\n", sc.external_id.c_str(),
                static_cast<long long>(*id), sc.calendar.c_str(), rs.c_str());
  }
  return kOk;
}

int ScheduleList(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl schedule list", kScheduleListHelp, {}, {}, 0, 0, "", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  auto schedules = session->store->ListSchedules();
  if (!schedules.ok()) return ctl::Fail(c.prog, schedules.status());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& sc : *schedules) {
    out.push_back(ScheduleJson(sc));
    std::string rs;
    for (const auto& r : sc.ranges) rs += (rs.empty() ? "" : " ") + RangeText(r);
    rows.push_back({std::to_string(sc.id), sc.external_id, sc.name.empty() ? "-" : sc.name,
                    sc.calendar, rs.empty() ? "(none: never)" : rs,
                    std::string(store::RecordSourceName(sc.source))});
  }
  if (c.args.json) {
    PrintJson({{"schedules", out}});
  } else {
    ctl::PrintTable({"ID", "EXTERNAL_ID", "NAME", "CALENDAR", "RANGES", "SOURCE"}, rows);
  }
  return kOk;
}

// ---------------------------------------------------------------- holidays

bool IsDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  auto y = ctl::ParseInt(s.substr(0, 4), 1970, 9999);
  auto m = ctl::ParseInt(s.substr(5, 2), 1, 12);
  auto d = ctl::ParseInt(s.substr(8, 2), 1, 31);
  if (!y || !m || !d) return false;
  return std::chrono::year_month_day(std::chrono::year(static_cast<int>(*y)),
                                     std::chrono::month(static_cast<unsigned>(*m)),
                                     std::chrono::day(static_cast<unsigned>(*d)))
      .ok();
}

int HolidayAdd(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl holiday add", kHolidayAddHelp, {},
                 {"--day-type", "--name"}, 2, 2, "expected CALENDAR and YYYY-MM-DD", &c);
  if (rc != kOk) return Done(rc);
  store::Holiday h;
  h.calendar = c.args.positional[0];
  h.local_date = c.args.positional[1];
  h.name = c.args.Value("--name").value_or("");
  if (h.calendar.empty()) return ctl::UsageError(c.prog, "the calendar is empty", kHolidayAddHelp);
  if (!IsDate(h.local_date)) {
    return ctl::UsageError(c.prog, "expected a date YYYY-MM-DD, got " + Quoted(h.local_date),
                           kHolidayAddHelp);
  }
  if (auto v = c.args.Value("--day-type")) {
    auto t = ctl::ParseInt(*v, store::kHolidayDayType, store::kSpecialDay2Type);
    if (!t) {
      return ctl::UsageError(c.prog, "--day-type: expected 8, 9 or 10, got " + Quoted(*v),
                             kHolidayAddHelp);
    }
    h.day_type = static_cast<int>(*t);
  }
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  Status st = session->store->CreateHoliday(h);
  if (!st.ok()) return ctl::Fail(c.prog, st);
  if (c.args.json) {
    PrintJson({{"calendar", h.calendar},
               {"date", h.local_date},
               {"day_type", h.day_type},
               {"name", h.name},
               {"source", "local"}});
  } else {
    std::printf("holiday %s added to calendar %s (day type %d)%s%s\n", h.local_date.c_str(),
                h.calendar.c_str(), h.day_type, h.name.empty() ? "" : ": ", h.name.c_str());
  }
  return kOk;
}

int HolidayList(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl holiday list", kHolidayListHelp, {}, {}, 0, 0, "", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  auto holidays = session->store->ListHolidays();
  if (!holidays.ok()) return ctl::Fail(c.prog, holidays.status());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : *holidays) {
    out.push_back({{"calendar", h.calendar},
                   {"date", h.local_date},
                   {"day_type", h.day_type},
                   {"name", h.name},
                   {"source", store::RecordSourceName(h.source)}});
    rows.push_back({h.calendar, h.local_date, std::to_string(h.day_type),
                    h.name.empty() ? "-" : h.name, std::string(store::RecordSourceName(h.source))});
  }
  if (c.args.json) {
    PrintJson({{"holidays", out}});
  } else {
    ctl::PrintTable({"CALENDAR", "DATE", "DAY_TYPE", "NAME", "SOURCE"}, rows);
  }
  return kOk;
}

// ---------------------------------------------------------------- rights

int RightAdd(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl right add", kRightAddHelp, {},
                 {"--user", "--group", "--door", "--schedule"}, 0, 0, "", &c);
  if (rc != kOk) return Done(rc);
  const auto user = c.args.Value("--user"), group = c.args.Value("--group");
  const auto door = c.args.Value("--door"), schedule = c.args.Value("--schedule");
  if (user.has_value() == group.has_value()) {
    return ctl::UsageError(c.prog, "give exactly one of --user and --group", kRightAddHelp);
  }
  if (!door) return ctl::UsageError(c.prog, "--door is required", kRightAddHelp);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  store::AccessRight r;
  if (user) {
    auto u = s.FindUserByExternalId(*user);
    if (!u.ok()) return ctl::Fail(c.prog, u.status());
    r.user_id = u->id;
  } else {
    auto g = FindGroup(s, *group);
    if (!g.ok()) return ctl::Fail(c.prog, g.status());
    r.group_id = g->id;
  }
  auto d = ctl::FindDoor(s, *door);
  if (!d.ok()) return ctl::Fail(c.prog, d.status());
  r.door_id = d->id;
  if (schedule) {
    auto sc = FindSchedule(s, *schedule);
    if (!sc.ok()) return ctl::Fail(c.prog, sc.status());
    r.schedule_id = sc->id;
  }
  auto id = s.CreateAccessRight(r);
  if (!id.ok()) return ctl::Fail(c.prog, id.status());
  const std::string holder = user ? "user " + *user : "group " + *group;
  if (c.args.json) {
    PrintJson({{"id", *id},
               {"user", user ? json(*user) : json(nullptr)},
               {"group", group ? json(*group) : json(nullptr)},
               {"door", *door},
               {"schedule", schedule ? json(*schedule) : json(nullptr)}});
  } else {
    std::printf("right %lld added: %s may pass door %s %s\n", static_cast<long long>(*id),
                holder.c_str(), door->c_str(),
                schedule ? ("within schedule " + *schedule).c_str() : "at any time");
  }
  return kOk;
}

int RightList(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl right list", kRightListHelp, {},
                 {"--user", "--group", "--door"}, 0, 0, "", &c);
  if (rc != kOk) return Done(rc);
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  store::Store& s = *session->store;
  store::AccessRightFilter filter;
  std::vector<int64_t> via_groups;  // --user: the user's groups, whose rights apply too
  if (auto v = c.args.Value("--user")) {
    auto u = s.FindUserByExternalId(*v);
    if (!u.ok()) return ctl::Fail(c.prog, u.status());
    filter.user_id = u->id;
    auto groups = s.ListGroupsOfUser(u->id);
    if (!groups.ok()) return ctl::Fail(c.prog, groups.status());
    via_groups = *groups;
  }
  if (auto v = c.args.Value("--group")) {
    auto g = FindGroup(s, *v);
    if (!g.ok()) return ctl::Fail(c.prog, g.status());
    filter.group_id = g->id;
  }
  if (auto v = c.args.Value("--door")) {
    auto d = ctl::FindDoor(s, *v);
    if (!d.ok()) return ctl::Fail(c.prog, d.status());
    filter.door_id = d->id;
  }
  auto names = Names::Load(s);
  if (!names.ok()) return ctl::Fail(c.prog, names.status());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  auto add = [&](const store::AccessRightFilter& f, std::optional<std::string> via) -> Status {
    auto rights = s.ListAccessRights(f);
    if (!rights.ok()) return rights.status();
    for (const auto& r : *rights) {
      out.push_back(RightJson(r, *names, via));
      rows.push_back(RightRow(r, *names, via.has_value()));
    }
    return Status::Ok();
  };
  if (Status st = add(filter, std::nullopt); !st.ok()) return ctl::Fail(c.prog, st);
  if (filter.user_id && !filter.group_id) {
    for (int64_t g : via_groups) {
      store::AccessRightFilter f;
      f.group_id = g;
      f.door_id = filter.door_id;
      if (Status st = add(f, Names::Of(names->groups, g)); !st.ok()) return ctl::Fail(c.prog, st);
    }
  }
  if (c.args.json) {
    PrintJson({{"rights", out}});
  } else {
    ctl::PrintTable({"ID", "HOLDER", "DOOR", "SCHEDULE", "SOURCE"}, rows);
  }
  return kOk;
}

int RightRemove(int argc, char** argv) {
  Command c;
  int rc = Parse(argc, argv, "facegatectl right remove", kRightRemoveHelp, {}, {}, 1, 1,
                 "no right id given", &c);
  if (rc != kOk) return Done(rc);
  auto id = ctl::ParseInt(c.args.positional[0], 1, INT64_MAX);
  if (!id) {
    return ctl::UsageError(
        c.prog, "expected a right id (a positive number), got " + Quoted(c.args.positional[0]),
        kRightRemoveHelp);
  }
  auto session = ctl::OpenStoreSession(c.args.config);
  if (!session.ok()) return ctl::Fail(c.prog, session.status());
  Status st = session->store->DeleteAccessRight(*id);
  if (!st.ok()) return ctl::Fail(c.prog, st);
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
                     {"erase", UserErase}},
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
