// The site's records: doors, access groups and their members, schedules, holidays, rights.
// Doors, groups and schedules are addressed by external id, holidays by calendar and date,
// rights by their numeric id. The validation rules are those of `facegatectl door|group|
// schedule|holiday|right` (src/app/ctl_site.cc), so that the API and the CLI agree.
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <unordered_map>

#include "admin/admin_impl.h"
#include "facegate/access/schedule_text.h"
#include "facegate/face/matching.h"

namespace facegate::admin::internal {
namespace {

constexpr size_t kMaxCalendar = 64;

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// Every member of `body` not in `known` is an error.
void RejectUnknown(const json& body, std::initializer_list<const char*> known, FieldErrors* e) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) e->Add(it.key(), "unknown field");
  }
}

// Members a GET answered ("id", "source", "external_id") may come back in a body: accepted
// when they say what the record already has, refused when they try to change it.
void CheckUnchanged(const json& body, const char* name, const json& current, std::string problem,
                    FieldErrors* e) {
  auto it = body.find(name);
  if (it != body.end() && *it != current) e->Add(name, std::move(problem));
}

// The checks every create makes on "id" and "source" (a new record is always local).
void CheckNewRecordEcho(const json& body, FieldErrors* e) {
  if (body.contains("id")) e->Add("id", "cannot be set (the server assigns it)");
  CheckUnchanged(body, "source", "local",
                 "cannot be set: records made here are local (synced ones come from Salto Space)",
                 e);
}

// Paging of the small lists the store reads whole (ordered by id): the items after the
// cursor, at most `limit`.
template <typename T, typename ToJson>
json PageOf(const std::vector<T>& all, const Page& page, ToJson to_json) {
  json items = json::array();
  std::optional<int64_t> last;
  for (const T& x : all) {
    if (x.id <= page.cursor) continue;
    if (static_cast<int>(items.size()) >= page.limit) break;
    items.push_back(to_json(x));
    last = x.id;
  }
  return PagedList(std::move(items), page.limit, last);
}

// ---------------------------------------------------------------- lookups by path

Result<store::Door> DoorByExternalId(store::Store& s, std::string_view ext) {
  auto d = s.FindDoorByExternalId(ext);
  if (!d.ok()) return d.status();
  if (!*d) return Status::NotFound("no door with external id " + Quoted(ext));
  return **d;
}

Result<store::AccessGroup> GroupByExternalId(store::Store& s, std::string_view ext) {
  auto g = s.FindAccessGroupByExternalId(ext);
  if (!g.ok()) return g.status();
  if (!*g) return Status::NotFound("no group with external id " + Quoted(ext));
  return **g;
}

// The store has no lookup of schedules by external id; there are few of them.
Result<store::Schedule> ScheduleByExternalId(store::Store& s, std::string_view ext) {
  auto all = s.ListSchedules();
  if (!all.ok()) return all.status();
  for (auto& sc : *all) {
    if (sc.external_id == ext) return std::move(sc);
  }
  return Status::NotFound("no schedule with external id " + Quoted(ext));
}

Result<store::User> UserByExternalId(store::Store& s, std::string_view ext) {
  auto u = s.FindUserByExternalId(ext);
  if (!u.ok() && u.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("no user with external id " + Quoted(ext));
  }
  return u;
}

const std::string& Param(const Call& c, size_t i) {
  static const std::string kNone;
  return i < c.params.size() ? c.params[i] : kNone;
}

// ---------------------------------------------------------------- doors

json DoorJson(const store::Door& d) {
  json settings = json::parse(d.settings_json, nullptr, false);
  if (!settings.is_object()) settings = json::object();
  return {{"id", d.id},
          {"external_id", d.external_id},
          {"name", d.name},
          {"settings", settings},
          {"source", store::RecordSourceName(d.source)}};
}

// "settings": the door's face policy, the keys `facegatectl door add` writes and the device
// API reads (ParseDoorPolicy in src/api/device_api.cc): security_level normal|high|highest,
// require_pad true|false, pad_min_score 0..1. Merged into `settings` (a JSON merge patch):
// a key set to null is removed, so the door follows the configured default again.
void ReadDoorSettings(const json& body, json* settings, FieldErrors* e) {
  auto it = body.find("settings");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) {
    e->Add("settings", "expected an object (security_level, require_pad, pad_min_score)");
    return;
  }
  for (auto s = it->begin(); s != it->end(); ++s) {
    const std::string field = "settings." + s.key();
    if (s->is_null()) {
      if (s.key() == "security_level" || s.key() == "require_pad" || s.key() == "pad_min_score") {
        settings->erase(s.key());
      } else {
        e->Add(field, "unknown setting (security_level, require_pad, pad_min_score)");
      }
      continue;
    }
    if (s.key() == "security_level") {
      auto level = s->is_string() ? face::ParseSecurityLevel(s->get<std::string>())
                                  : std::optional<face::SecurityLevel>();
      if (!level) {
        e->Add(field, "expected normal, high or highest");
      } else {
        (*settings)["security_level"] = face::SecurityLevelName(*level);
      }
    } else if (s.key() == "require_pad") {
      if (!s->is_boolean()) {
        e->Add(field, "expected true or false");
      } else {
        (*settings)["require_pad"] = s->get<bool>();
      }
    } else if (s.key() == "pad_min_score") {
      const double x = s->is_number() ? s->get<double>() : NAN;
      if (!std::isfinite(x) || x < 0 || x > 1) {
        e->Add(field, "expected a number from 0 to 1");
      } else {
        (*settings)["pad_min_score"] = x;
      }
    } else {
      e->Add(field, "unknown setting (security_level, require_pad, pad_min_score)");
    }
  }
}

json ChangedFields(const json& body) {
  json fields = json::array();
  for (auto it = body.begin(); it != body.end(); ++it) fields.push_back(it.key());
  return fields;
}

// ---------------------------------------------------------------- groups

json GroupJson(const store::AccessGroup& g) {
  return {{"id", g.id},
          {"external_id", g.external_id},
          {"name", g.name},
          {"source", store::RecordSourceName(g.source)}};
}

// ---------------------------------------------------------------- schedules

json ScheduleJson(const store::Schedule& sc) {
  json ranges = json::array();
  for (const auto& r : sc.ranges) {
    ranges.push_back({{"day", r.day},
                      {"start", access::ClockText(r.start_minute)},
                      {"end", access::ClockText(r.end_minute)}});
  }
  return {{"id", sc.id},
          {"external_id", sc.external_id},
          {"name", sc.name},
          {"calendar", sc.calendar},
          {"source", store::RecordSourceName(sc.source)},
          {"ranges", ranges}};
}

constexpr const char* kDayProblem =
    "expected 1..10, mon..sun, holiday, special1 or special2 (a span such as mon-fri or a list "
    "such as sat,sun gives the range to each of those days)";
constexpr const char* kMidnightProblem =
    "must be after start; a range never crosses midnight: write two, e.g. mon 22:00-24:00 and "
    "tue 00:00-06:00";

// "ranges": [{"day": 1..10 or a name, "start": "HH:MM", "end": "HH:MM" (24:00 allowed)}, ...]
// or, as with facegatectl, "mon-fri:08:00-18:00" strings. At least one range.
std::optional<std::vector<store::ScheduleRange>> ReadRanges(const json& body, FieldErrors* e) {
  auto it = body.find("ranges");
  if (it == body.end() || it->is_null()) {
    e->Add("ranges", "required: at least one {\"day\", \"start\", \"end\"}");
    return std::nullopt;
  }
  if (!it->is_array()) {
    e->Add("ranges", "expected an array of {\"day\", \"start\", \"end\"}");
    return std::nullopt;
  }
  if (it->empty()) {
    e->Add("ranges", "give at least one range");
    return std::nullopt;
  }
  std::vector<store::ScheduleRange> out;
  std::map<std::pair<int, int>, size_t> starts;  // (day, start) -> index of the range
  bool bad = false;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& r = (*it)[i];
    const std::string at = "ranges[" + std::to_string(i) + "]";
    std::optional<std::vector<int>> days;
    std::optional<int> start, end;
    if (r.is_string()) {
      // facegatectl's DAYS:HH:MM-HH:MM
      const std::string text = r.get<std::string>();
      const size_t colon = text.find(':');
      const size_t dash = colon == std::string::npos ? colon : text.find('-', colon);
      if (dash == std::string::npos) {
        e->Add(at, "expected {\"day\", \"start\", \"end\"} or DAY:HH:MM-HH:MM");
        bad = true;
        continue;
      }
      days = access::ParseDays(std::string_view(text).substr(0, colon));
      start = access::ParseClock(std::string_view(text).substr(colon + 1, dash - colon - 1), false);
      end = access::ParseClock(std::string_view(text).substr(dash + 1), true);
      if (!days) e->Add(at, std::string("day: ") + kDayProblem);
      if (!start || !end) e->Add(at, "times are HH:MM, 00:00 to 23:59 (24:00 as the end)");
      if (start && end && *end <= *start) e->Add(at, std::string("end ") + kMidnightProblem);
    } else if (r.is_object()) {
      for (auto k = r.begin(); k != r.end(); ++k) {
        if (k.key() != "day" && k.key() != "start" && k.key() != "end") {
          e->Add(at + "." + k.key(), "unknown field");
          bad = true;
        }
      }
      auto day = r.find("day");
      if (day == r.end() || day->is_null()) {
        e->Add(at + ".day", "required");
      } else if (day->is_number_integer()) {
        const int64_t n = day->get<int64_t>();
        if (n >= store::kFirstWeekday && n <= store::kSpecialDay2Type) {
          days = std::vector<int>{static_cast<int>(n)};
        } else {
          e->Add(at + ".day", kDayProblem);
        }
      } else if (day->is_string()) {
        days = access::ParseDays(day->get<std::string>());
        if (!days) e->Add(at + ".day", kDayProblem);
      } else {
        e->Add(at + ".day", kDayProblem);
      }
      auto clock = [&](const char* name, bool midnight) -> std::optional<int> {
        auto v = r.find(name);
        if (v == r.end() || v->is_null()) {
          e->Add(at + "." + name, "required");
          return std::nullopt;
        }
        auto m =
            v->is_string() ? access::ParseClock(v->get<std::string>(), midnight) : std::nullopt;
        if (!m) {
          e->Add(at + "." + name,
                 midnight ? "expected HH:MM, 00:01 to 24:00" : "expected HH:MM, 00:00 to 23:59");
        }
        return m;
      };
      start = clock("start", false);
      end = clock("end", true);
      if (start && end && *end <= *start) e->Add(at + ".end", kMidnightProblem);
    } else {
      e->Add(at, "expected {\"day\", \"start\", \"end\"}");
      bad = true;
      continue;
    }
    if (!days || !start || !end || *end <= *start) {
      bad = true;
      continue;
    }
    for (int d : *days) {
      auto [seen, fresh] = starts.emplace(std::pair(d, *start), i);
      if (!fresh) {
        e->Add(at, "another range (ranges[" + std::to_string(seen->second) +
                       "]) starts on the same day at the same minute");
        bad = true;
        continue;
      }
      out.push_back({d, *start, *end});
    }
  }
  if (bad) return std::nullopt;
  return out;
}

// "calendar": the holiday calendar, not empty.
std::optional<std::string> CalendarField(const json& body, FieldErrors* e) {
  auto v = StringField(body, "calendar", e, false, kMaxCalendar);
  if (v && v->empty()) {
    e->Add("calendar", "must not be empty (the default calendar is \"default\")");
    return std::nullopt;
  }
  return v;
}

// ---------------------------------------------------------------- holidays

json HolidayJson(const store::Holiday& h) {
  return {{"calendar", h.calendar},
          {"date", h.local_date},
          {"day_type", h.day_type},
          {"name", h.name},
          {"source", store::RecordSourceName(h.source)}};
}

// ---------------------------------------------------------------- rights

// External ids of the records rights refer to, read once per request.
class Names {
 public:
  static Result<Names> Load(store::Store& s) {
    Names n(s);
    auto doors = s.ListDoors();
    if (!doors.ok()) return doors.status();
    for (const auto& d : *doors) n.doors_[d.id] = d.external_id;
    auto groups = s.ListAccessGroups();
    if (!groups.ok()) return groups.status();
    for (const auto& g : *groups) n.groups_[g.id] = g.external_id;
    auto schedules = s.ListSchedules();
    if (!schedules.ok()) return schedules.status();
    for (const auto& sc : *schedules) n.schedules_[sc.id] = sc.external_id;
    return n;
  }

  json RightJson(const store::AccessRight& r) {
    return {{"id", r.id},
            {"user", r.user_id ? User(*r.user_id) : json(nullptr)},
            {"group", r.group_id ? Of(groups_, *r.group_id) : json(nullptr)},
            {"door", Of(doors_, r.door_id)},
            {"schedule", r.schedule_id ? Of(schedules_, *r.schedule_id) : json(nullptr)},
            {"source", store::RecordSourceName(r.source)},
            {"created_at", TimeJson(r.created_at)}};
  }

 private:
  explicit Names(store::Store& s) : store_(&s) {}

  static json Of(const std::unordered_map<int64_t, std::string>& m, int64_t id) {
    auto it = m.find(id);
    return it == m.end() ? json(nullptr) : json(it->second);
  }
  json User(int64_t id) {
    auto it = users_.find(id);
    if (it == users_.end()) {
      auto u = store_->GetUser(id);
      it = users_.emplace(id, u.ok() ? u->external_id : std::string()).first;
    }
    return it->second.empty() ? json(nullptr) : json(it->second);
  }

  store::Store* store_;
  std::unordered_map<int64_t, std::string> doors_, groups_, schedules_, users_;
};

Result<store::AccessRight> RightById(store::Store& s, const std::string& text) {
  auto id = ParseInt64(text);
  if (!id || *id <= 0) return Status::NotFound("no right with id " + Quoted(text));
  auto all = s.ListAccessRights({});
  if (!all.ok()) return all.status();
  for (const auto& r : *all) {
    if (r.id == *id) return r;
  }
  return Status::NotFound("no right with id " + std::to_string(*id));
}

}  // namespace

// ================================================================ doors

Reply AdminApiImpl::ListDoors(Call& c) {
  FieldErrors e;
  Page page = ParsePage(c, &e);
  if (!e.empty()) return e.ToReply();
  auto doors = store().ListDoors();
  if (!doors.ok()) return StatusReply(doors.status());
  Reply r;
  r.body = PageOf(*doors, page, DoorJson);
  return r;
}

Reply AdminApiImpl::CreateDoor(Call& c) {
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  store::Door d;
  FieldErrors e;
  if (auto v = StringField(*body, "external_id", &e, true, kMaxExternalId)) d.external_id = *v;
  if (auto v = StringField(*body, "name", &e, false, kMaxName)) d.name = *v;
  // Only what was asked is written: an unset level follows face.matching.security_level.
  json settings = json::object();
  ReadDoorSettings(*body, &settings, &e);
  CheckNewRecordEcho(*body, &e);
  RejectUnknown(*body, {"external_id", "name", "settings", "id", "source"}, &e);
  if (!e.empty()) return e.ToReply();
  d.settings_json = settings.dump();
  c.target = "door:" + d.external_id;
  if (auto refused = RefuseSyncOwned("door " + d.external_id, store::RecordSource::kLocal)) {
    return *refused;
  }
  auto existing = store().FindDoorByExternalId(d.external_id);
  if (!existing.ok()) return StatusReply(existing.status());
  if (*existing) {
    return ErrorReply(status::conflict, "conflict",
                      "door " + Quoted(d.external_id) + " exists (id " +
                          std::to_string((*existing)->id) + "): PATCH it instead");
  }
  auto id = store().UpsertDoor(d);
  if (!id.ok()) return StatusReply(id.status());
  auto stored = store().GetDoor(*id);
  if (!stored.ok()) return StatusReply(stored.status());
  c.audit_details = {{"id", *id}, {"settings", settings}};
  return Created(DoorJson(*stored));
}

Reply AdminApiImpl::GetDoor(Call& c) {
  auto d = DoorByExternalId(store(), Param(c, 0));
  if (!d.ok()) return StatusReply(d.status());
  Reply r;
  r.body = DoorJson(*d);
  return r;
}

Reply AdminApiImpl::PatchDoor(Call& c) {
  auto d = DoorByExternalId(store(), Param(c, 0));
  if (!d.ok()) return StatusReply(d.status());
  c.target = "door:" + d->external_id;
  if (auto refused = RefuseSyncOwned("door " + d->external_id, d->source)) return *refused;
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  store::Door changed = *d;
  FieldErrors e;
  if (auto v = StringField(*body, "name", &e, false, kMaxName)) changed.name = *v;
  json settings = json::parse(d->settings_json, nullptr, false);
  if (!settings.is_object()) settings = json::object();
  ReadDoorSettings(*body, &settings, &e);
  CheckUnchanged(*body, "external_id", d->external_id,
                 "cannot be changed (delete the door and create another)", &e);
  CheckUnchanged(*body, "id", d->id, "cannot be changed", &e);
  CheckUnchanged(*body, "source", store::RecordSourceName(d->source), "cannot be changed", &e);
  RejectUnknown(*body, {"external_id", "name", "settings", "id", "source"}, &e);
  if (!e.empty()) return e.ToReply();
  changed.settings_json = settings.dump();
  auto id = store().UpsertDoor(changed);
  if (!id.ok()) return StatusReply(id.status());
  auto stored = store().GetDoor(*id);
  if (!stored.ok()) return StatusReply(stored.status());
  c.audit_details = {{"fields", ChangedFields(*body)}};
  Reply r;
  r.body = DoorJson(*stored);
  return r;
}

Reply AdminApiImpl::DeleteDoor(Call& c) {
  auto d = DoorByExternalId(store(), Param(c, 0));
  if (!d.ok()) return StatusReply(d.status());
  c.target = "door:" + d->external_id;
  if (auto refused = RefuseSyncOwned("door " + d->external_id, d->source)) return *refused;
  store::AccessRightFilter f;
  f.door_id = d->id;
  auto rights = store().ListAccessRights(f);
  if (!rights.ok()) return StatusReply(rights.status());
  if (Status s = store().DeleteDoor(d->id); !s.ok()) return StatusReply(s);
  c.audit_details = {{"id", d->id}, {"rights_deleted", rights->size()}};
  Reply r;
  r.body = {{"deleted", true}, {"external_id", d->external_id}, {"rights_deleted", rights->size()}};
  return r;
}

// ================================================================ groups

Reply AdminApiImpl::ListGroups(Call& c) {
  FieldErrors e;
  Page page = ParsePage(c, &e);
  if (!e.empty()) return e.ToReply();
  auto groups = store().ListAccessGroups();
  if (!groups.ok()) return StatusReply(groups.status());
  Reply r;
  r.body = PageOf(*groups, page, GroupJson);
  return r;
}

Reply AdminApiImpl::CreateGroup(Call& c) {
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  store::AccessGroup g;
  FieldErrors e;
  if (auto v = StringField(*body, "external_id", &e, true, kMaxExternalId)) g.external_id = *v;
  if (auto v = StringField(*body, "name", &e, false, kMaxName)) g.name = *v;
  CheckNewRecordEcho(*body, &e);
  RejectUnknown(*body, {"external_id", "name", "id", "source"}, &e);
  if (!e.empty()) return e.ToReply();
  c.target = "group:" + g.external_id;
  if (auto refused = RefuseSyncOwned("group " + g.external_id, store::RecordSource::kLocal)) {
    return *refused;
  }
  auto existing = store().FindAccessGroupByExternalId(g.external_id);
  if (!existing.ok()) return StatusReply(existing.status());
  if (*existing) {
    return ErrorReply(status::conflict, "conflict",
                      "group " + Quoted(g.external_id) + " exists (id " +
                          std::to_string((*existing)->id) + "): PATCH it instead");
  }
  auto id = store().CreateAccessGroup(g);
  if (!id.ok()) return StatusReply(id.status());
  g.id = *id;
  c.audit_details = {{"id", *id}};
  json out = GroupJson(g);
  out["members"] = 0;
  return Created(out);
}

Reply AdminApiImpl::GetGroup(Call& c) {
  auto g = GroupByExternalId(store(), Param(c, 0));
  if (!g.ok()) return StatusReply(g.status());
  auto members = store().ListGroupMembers(g->id);
  if (!members.ok()) return StatusReply(members.status());
  Reply r;
  r.body = GroupJson(*g);
  r.body["members"] = members->size();
  return r;
}

Reply AdminApiImpl::PatchGroup(Call& c) {
  auto g = GroupByExternalId(store(), Param(c, 0));
  if (!g.ok()) return StatusReply(g.status());
  c.target = "group:" + g->external_id;
  if (auto refused = RefuseSyncOwned("group " + g->external_id, g->source)) return *refused;
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  store::AccessGroup changed = *g;
  FieldErrors e;
  if (auto v = StringField(*body, "name", &e, false, kMaxName)) changed.name = *v;
  CheckUnchanged(*body, "external_id", g->external_id,
                 "cannot be changed (delete the group and create another)", &e);
  CheckUnchanged(*body, "id", g->id, "cannot be changed", &e);
  CheckUnchanged(*body, "source", store::RecordSourceName(g->source), "cannot be changed", &e);
  // "members" as GET answers it: the count is not a field (PUT .../members/{user} instead).
  if (body->contains("members")) {
    auto members = store().ListGroupMembers(g->id);
    if (!members.ok()) return StatusReply(members.status());
    CheckUnchanged(*body, "members", members->size(),
                   "cannot be set here: PUT or DELETE /api/v1/groups/{id}/members/{user}", &e);
  }
  RejectUnknown(*body, {"external_id", "name", "id", "source", "members"}, &e);
  if (!e.empty()) return e.ToReply();
  if (Status s = store().UpdateAccessGroup(changed); !s.ok()) return StatusReply(s);
  c.audit_details = {{"fields", ChangedFields(*body)}};
  auto members = store().ListGroupMembers(g->id);
  if (!members.ok()) return StatusReply(members.status());
  Reply r;
  r.body = GroupJson(changed);
  r.body["members"] = members->size();
  return r;
}

Reply AdminApiImpl::DeleteGroup(Call& c) {
  auto g = GroupByExternalId(store(), Param(c, 0));
  if (!g.ok()) return StatusReply(g.status());
  c.target = "group:" + g->external_id;
  if (auto refused = RefuseSyncOwned("group " + g->external_id, g->source)) return *refused;
  auto members = store().ListGroupMembers(g->id);
  if (!members.ok()) return StatusReply(members.status());
  store::AccessRightFilter f;
  f.group_id = g->id;
  auto rights = store().ListAccessRights(f);
  if (!rights.ok()) return StatusReply(rights.status());
  // Memberships and the group's rights go with it (one transaction in the store).
  if (Status s = store().DeleteAccessGroup(g->id); !s.ok()) return StatusReply(s);
  c.audit_details = {
      {"id", g->id}, {"members_removed", members->size()}, {"rights_deleted", rights->size()}};
  Reply r;
  r.body = {{"deleted", true},
            {"external_id", g->external_id},
            {"members_removed", members->size()},
            {"rights_deleted", rights->size()}};
  return r;
}

Reply AdminApiImpl::ListGroupMembers(Call& c) {
  auto g = GroupByExternalId(store(), Param(c, 0));
  if (!g.ok()) return StatusReply(g.status());
  FieldErrors e;
  Page page = ParsePage(c, &e);
  if (!e.empty()) return e.ToReply();
  auto ids = store().ListGroupMembers(g->id);  // by user id
  if (!ids.ok()) return StatusReply(ids.status());
  json items = json::array();
  std::optional<int64_t> last;
  for (int64_t id : *ids) {
    if (id <= page.cursor) continue;
    if (static_cast<int>(items.size()) >= page.limit) break;
    auto u = store().GetUser(id);
    if (!u.ok()) {
      if (u.status().code() == StatusCode::kNotFound) continue;  // erased meanwhile
      return StatusReply(u.status());
    }
    items.push_back({{"external_id", u->external_id},
                     {"first_name", u->first_name},
                     {"last_name", u->last_name}});
    last = id;
  }
  Reply r;
  r.body = PagedList(std::move(items), page.limit, last);
  return r;
}

// PUT is idempotent: a user who is a member already is answered 200 with "added": false.
Reply AdminApiImpl::AddGroupMember(Call& c) {
  auto g = GroupByExternalId(store(), Param(c, 0));
  if (!g.ok()) return StatusReply(g.status());
  c.target = "group:" + g->external_id;
  c.audit_details = {{"user", Param(c, 1)}};
  if (auto refused = RefuseSyncOwned("group " + g->external_id, g->source)) return *refused;
  auto u = UserByExternalId(store(), Param(c, 1));
  if (!u.ok()) return StatusReply(u.status());
  Status s = store().AddGroupMember(g->id, u->id);
  bool added = true;
  if (s.code() == StatusCode::kAlreadyExists) {
    added = false;
  } else if (!s.ok()) {
    return StatusReply(s);
  }
  c.audit_details["added"] = added;
  Reply r;
  r.body = {
      {"group", g->external_id}, {"user", u->external_id}, {"member", true}, {"added", added}};
  return r;
}

Reply AdminApiImpl::RemoveGroupMember(Call& c) {
  auto g = GroupByExternalId(store(), Param(c, 0));
  if (!g.ok()) return StatusReply(g.status());
  c.target = "group:" + g->external_id;
  c.audit_details = {{"user", Param(c, 1)}};
  if (auto refused = RefuseSyncOwned("group " + g->external_id, g->source)) return *refused;
  auto u = UserByExternalId(store(), Param(c, 1));
  if (!u.ok()) return StatusReply(u.status());
  Status s = store().RemoveGroupMember(g->id, u->id);
  if (s.code() == StatusCode::kNotFound) {
    return ErrorReply(
        status::not_found, "not_found",
        "user " + Quoted(u->external_id) + " is not a member of group " + Quoted(g->external_id));
  }
  if (!s.ok()) return StatusReply(s);
  Reply r;
  r.body = {{"group", g->external_id}, {"user", u->external_id}, {"member", false}};
  return r;
}

// ================================================================ schedules

Reply AdminApiImpl::ListSchedules(Call& c) {
  FieldErrors e;
  Page page = ParsePage(c, &e);
  if (!e.empty()) return e.ToReply();
  auto schedules = store().ListSchedules();
  if (!schedules.ok()) return StatusReply(schedules.status());
  Reply r;
  r.body = PageOf(*schedules, page, ScheduleJson);
  return r;
}

Reply AdminApiImpl::CreateSchedule(Call& c) {
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  store::Schedule sc;
  FieldErrors e;
  if (auto v = StringField(*body, "external_id", &e, true, kMaxExternalId)) sc.external_id = *v;
  if (auto v = StringField(*body, "name", &e, false, kMaxName)) sc.name = *v;
  if (auto v = CalendarField(*body, &e)) sc.calendar = *v;
  if (auto v = ReadRanges(*body, &e)) sc.ranges = std::move(*v);
  CheckNewRecordEcho(*body, &e);
  RejectUnknown(*body, {"external_id", "name", "calendar", "ranges", "id", "source"}, &e);
  if (!e.empty()) return e.ToReply();
  c.target = "schedule:" + sc.external_id;
  if (auto refused = RefuseSyncOwned("schedule " + sc.external_id, store::RecordSource::kLocal)) {
    return *refused;
  }
  auto existing = ScheduleByExternalId(store(), sc.external_id);
  if (existing.ok()) {
    return ErrorReply(status::conflict, "conflict",
                      "schedule " + Quoted(sc.external_id) + " exists (id " +
                          std::to_string(existing->id) + "): PUT it instead");
  }
  if (existing.status().code() != StatusCode::kNotFound) return StatusReply(existing.status());
  auto id = store().CreateSchedule(sc);
  if (!id.ok()) return StatusReply(id.status());
  auto stored = store().GetSchedule(*id);
  if (!stored.ok()) return StatusReply(stored.status());
  if (!*stored) return ErrorReply(status::internal_server_error, "internal", "schedule vanished");
  c.audit_details = {{"id", *id}, {"ranges", (*stored)->ranges.size()}};
  return Created(ScheduleJson(**stored));
}

Reply AdminApiImpl::GetSchedule(Call& c) {
  auto sc = ScheduleByExternalId(store(), Param(c, 0));
  if (!sc.ok()) return StatusReply(sc.status());
  Reply r;
  r.body = ScheduleJson(*sc);
  return r;
}

// Replaces the ranges (all of them, in one transaction); name and calendar change when given
// and are kept otherwise.
Reply AdminApiImpl::PutSchedule(Call& c) {
  auto sc = ScheduleByExternalId(store(), Param(c, 0));
  if (!sc.ok()) return StatusReply(sc.status());
  c.target = "schedule:" + sc->external_id;
  if (auto refused = RefuseSyncOwned("schedule " + sc->external_id, sc->source)) return *refused;
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  store::Schedule changed = *sc;
  FieldErrors e;
  if (auto v = StringField(*body, "name", &e, false, kMaxName)) changed.name = *v;
  if (auto v = CalendarField(*body, &e)) changed.calendar = *v;
  if (auto v = ReadRanges(*body, &e)) changed.ranges = std::move(*v);
  CheckUnchanged(*body, "external_id", sc->external_id,
                 "cannot be changed (delete the schedule and create another)", &e);
  CheckUnchanged(*body, "id", sc->id, "cannot be changed", &e);
  CheckUnchanged(*body, "source", store::RecordSourceName(sc->source), "cannot be changed", &e);
  RejectUnknown(*body, {"external_id", "name", "calendar", "ranges", "id", "source"}, &e);
  if (!e.empty()) return e.ToReply();
  if (Status s = store().UpdateSchedule(changed); !s.ok()) return StatusReply(s);
  auto stored = store().GetSchedule(sc->id);
  if (!stored.ok()) return StatusReply(stored.status());
  if (!*stored) return StatusReply(Status::NotFound("schedule " + Quoted(sc->external_id)));
  c.audit_details = {{"fields", ChangedFields(*body)}, {"ranges", (*stored)->ranges.size()}};
  Reply r;
  r.body = ScheduleJson(**stored);
  return r;
}

Reply AdminApiImpl::DeleteSchedule(Call& c) {
  auto sc = ScheduleByExternalId(store(), Param(c, 0));
  if (!sc.ok()) return StatusReply(sc.status());
  c.target = "schedule:" + sc->external_id;
  if (auto refused = RefuseSyncOwned("schedule " + sc->external_id, sc->source)) return *refused;
  // Still used by rights: FailedPrecondition, 409 conflict (the store says how many).
  if (Status s = store().DeleteSchedule(sc->id); !s.ok()) return StatusReply(s);
  c.audit_details = {{"id", sc->id}};
  Reply r;
  r.body = {{"deleted", true}, {"external_id", sc->external_id}};
  return r;
}

// ================================================================ holidays

// Every holiday (by calendar, date) up to ?limit; not paged by cursor. ?calendar= keeps one.
Reply AdminApiImpl::ListHolidays(Call& c) {
  FieldErrors e;
  Page page = ParsePage(c, &e);
  if (!e.empty()) return e.ToReply();
  auto holidays = store().ListHolidays();
  if (!holidays.ok()) return StatusReply(holidays.status());
  const auto calendar = c.Query("calendar");
  json items = json::array();
  for (const auto& h : *holidays) {
    if (calendar && !calendar->empty() && h.calendar != *calendar) continue;
    if (static_cast<int>(items.size()) >= page.limit) break;
    items.push_back(HolidayJson(h));
  }
  Reply r;
  r.body = {{"items", items}, {"next_cursor", nullptr}};
  return r;
}

Reply AdminApiImpl::CreateHoliday(Call& c) {
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  store::Holiday h;
  FieldErrors e;
  if (auto v = CalendarField(*body, &e)) h.calendar = *v;
  if (auto v = StringField(*body, "date", &e, true, 10 + 1)) {
    if (access::IsHolidayDate(*v)) {
      h.local_date = *v;
    } else {
      e.Add("date", "expected a date YYYY-MM-DD");
    }
  }
  if (auto it = body->find("day_type"); it != body->end() && !it->is_null()) {
    if (it->is_number_integer() && it->get<int64_t>() >= store::kHolidayDayType &&
        it->get<int64_t>() <= store::kSpecialDay2Type) {
      h.day_type = static_cast<int>(it->get<int64_t>());
    } else {
      e.Add("day_type", "expected 8 (holiday), 9 or 10 (special days)");
    }
  }
  if (auto v = StringField(*body, "name", &e, false, kMaxName)) h.name = *v;
  CheckUnchanged(*body, "source", "local",
                 "cannot be set: records made here are local (synced ones come from Salto Space)",
                 &e);
  RejectUnknown(*body, {"calendar", "date", "day_type", "name", "source"}, &e);
  if (!e.empty()) return e.ToReply();
  c.target = "holiday:" + h.calendar + "/" + h.local_date;
  if (auto refused = RefuseSyncOwned("holiday " + h.calendar + "/" + h.local_date,
                                     store::RecordSource::kLocal)) {
    return *refused;
  }
  // An existing date is AlreadyExists: 409 conflict.
  if (Status s = store().CreateHoliday(h); !s.ok()) return StatusReply(s);
  c.audit_details = {{"day_type", h.day_type}};
  return Created(HolidayJson(h));
}

Reply AdminApiImpl::DeleteHoliday(Call& c) {
  const std::string& calendar = Param(c, 0);
  const std::string& date = Param(c, 1);
  c.target = "holiday:" + calendar + "/" + date;
  auto holidays = store().ListHolidays();
  if (!holidays.ok()) return StatusReply(holidays.status());
  const store::Holiday* found = nullptr;
  for (const auto& h : *holidays) {
    if (h.calendar == calendar && h.local_date == date) found = &h;
  }
  if (!found) {
    return ErrorReply(status::not_found, "not_found",
                      "calendar " + Quoted(calendar) + " has no holiday on " + Quoted(date));
  }
  if (auto refused = RefuseSyncOwned("holiday " + calendar + "/" + date, found->source)) {
    return *refused;
  }
  if (Status s = store().DeleteHoliday(calendar, date); !s.ok()) return StatusReply(s);
  Reply r;
  r.body = {{"deleted", true}, {"calendar", calendar}, {"date", date}};
  return r;
}

// ================================================================ rights

// ?user=, ?group=, ?door=, ?schedule= (external ids; every one given must match; an unknown
// one is 404); paged by right id. ?user= gives the user's own rights, not their groups'.
Reply AdminApiImpl::ListRights(Call& c) {
  FieldErrors e;
  Page page = ParsePage(c, &e);
  if (!e.empty()) return e.ToReply();
  store::AccessRightFilter f;
  if (auto v = c.Query("user")) {
    auto u = UserByExternalId(store(), *v);
    if (!u.ok()) return StatusReply(u.status());
    f.user_id = u->id;
  }
  if (auto v = c.Query("group")) {
    auto g = GroupByExternalId(store(), *v);
    if (!g.ok()) return StatusReply(g.status());
    f.group_id = g->id;
  }
  if (auto v = c.Query("door")) {
    auto d = DoorByExternalId(store(), *v);
    if (!d.ok()) return StatusReply(d.status());
    f.door_id = d->id;
  }
  if (auto v = c.Query("schedule")) {
    auto sc = ScheduleByExternalId(store(), *v);
    if (!sc.ok()) return StatusReply(sc.status());
    f.schedule_id = sc->id;
  }
  auto rights = store().ListAccessRights(f);
  if (!rights.ok()) return StatusReply(rights.status());
  auto names = Names::Load(store());
  if (!names.ok()) return StatusReply(names.status());
  Reply r;
  r.body = PageOf(*rights, page, [&](const store::AccessRight& x) { return names->RightJson(x); });
  return r;
}

// {"user": EXT | "group": EXT, "door": EXT, "schedule": EXT or null}. References that do
// not exist are field errors (400), like any other bad value of the body.
Reply AdminApiImpl::CreateRight(Call& c) {
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  FieldErrors e;
  auto user = StringField(*body, "user", &e, false, kMaxExternalId);
  auto group = StringField(*body, "group", &e, false, kMaxExternalId);
  auto door = StringField(*body, "door", &e, true, kMaxExternalId);
  auto schedule = StringField(*body, "schedule", &e, false, kMaxExternalId);
  const bool user_given = body->contains("user") && !(*body)["user"].is_null();
  const bool group_given = body->contains("group") && !(*body)["group"].is_null();
  if (user_given && group_given) {
    e.Add("user", "give exactly one of user and group");
    e.Add("group", "give exactly one of user and group");
  } else if (!user_given && !group_given) {
    e.Add("user", "required (or group): give exactly one of user and group");
  }
  CheckNewRecordEcho(*body, &e);
  RejectUnknown(*body, {"user", "group", "door", "schedule", "id", "source"}, &e);
  json details = json::object();
  if (user) details["user"] = *user;
  if (group) details["group"] = *group;
  if (door) details["door"] = *door;
  if (schedule) details["schedule"] = *schedule;
  c.audit_details = details;
  if (!e.empty()) return e.ToReply();

  store::AccessRight right;
  auto reference = [&](const char* field, Status st) {
    if (st.code() == StatusCode::kNotFound) {
      e.Add(field, st.message());
      return true;
    }
    return st.ok();
  };
  Status failure;  // a store failure other than a missing record
  if (user) {
    auto u = UserByExternalId(store(), *user);
    if (u.ok()) right.user_id = u->id;
    if (!reference("user", u.status())) failure = u.status();
  }
  if (group) {
    auto g = GroupByExternalId(store(), *group);
    if (g.ok()) right.group_id = g->id;
    if (!reference("group", g.status())) failure = g.status();
  }
  auto d = DoorByExternalId(store(), *door);
  if (d.ok()) right.door_id = d->id;
  if (!reference("door", d.status())) failure = d.status();
  if (schedule) {
    auto sc = ScheduleByExternalId(store(), *schedule);
    if (sc.ok()) right.schedule_id = sc->id;
    if (!reference("schedule", sc.status())) failure = sc.status();
  }
  if (!failure.ok()) return StatusReply(failure);
  if (!e.empty()) return e.ToReply();

  const std::string holder = user ? "user " + Quoted(*user) : "group " + Quoted(*group);
  if (auto refused = RefuseSyncOwned("the right of " + holder + " to door " + Quoted(*door),
                                     store::RecordSource::kLocal)) {
    return *refused;
  }
  store::AccessRightFilter same;
  same.user_id = right.user_id;
  same.group_id = right.group_id;
  same.door_id = right.door_id;
  auto existing = store().ListAccessRights(same);
  if (!existing.ok()) return StatusReply(existing.status());
  if (!existing->empty()) {
    const int64_t other = existing->front().id;
    c.target = "right:" + std::to_string(other);
    return ErrorReply(status::conflict, "conflict",
                      holder + " already has a right to door " + Quoted(*door) + " (right " +
                          std::to_string(other) +
                          "); a holder has one right per door: delete that one first");
  }
  auto id = store().CreateAccessRight(right);
  if (!id.ok()) return StatusReply(id.status());
  c.target = "right:" + std::to_string(*id);
  auto created = RightById(store(), std::to_string(*id));
  if (!created.ok()) return StatusReply(created.status());
  auto names = Names::Load(store());
  if (!names.ok()) return StatusReply(names.status());
  return Created(names->RightJson(*created));
}

Reply AdminApiImpl::DeleteRight(Call& c) {
  c.target = "right:" + Param(c, 0);
  auto right = RightById(store(), Param(c, 0));
  if (!right.ok()) return StatusReply(right.status());
  auto names = Names::Load(store());
  if (!names.ok()) return StatusReply(names.status());
  json described = names->RightJson(*right);
  c.target = "right:" + std::to_string(right->id);
  if (auto refused = RefuseSyncOwned("right " + std::to_string(right->id), right->source)) {
    return *refused;
  }
  c.audit_details = {{"user", described["user"]},
                     {"group", described["group"]},
                     {"door", described["door"]},
                     {"schedule", described["schedule"]}};
  if (Status s = store().DeleteAccessRight(right->id); !s.ok()) return StatusReply(s);
  Reply r;
  r.body = {{"deleted", true}, {"id", right->id}};
  return r;
}

}  // namespace facegate::admin::internal
