#include "facegate/ship/client.h"

#include <charconv>
#include <set>
#include <thread>

namespace facegate::ship {
namespace {

constexpr const char* kUserDoors = "SaltoDB.AccessPermissionList.User_Door";
constexpr const char* kUserDoor = "SaltoDB.AccessPermission.User_Door";
constexpr const char* kGroupDoors = "SaltoDB.AccessPermissionList.Group_Door";
constexpr const char* kGroupDoor = "SaltoDB.AccessPermission.Group_Door";
constexpr const char* kMemberships = "SaltoDB.MembershipList.User_Group";
constexpr const char* kMembership = "SaltoDB.Membership.User_Group";
constexpr const char* kTimezones = "SaltoDB.TimezoneList";
constexpr const char* kTimezone = "SaltoDB.Timezone";
constexpr const char* kDayNames[] = {"Monday",   "Tuesday", "Wednesday", "Thursday", "Friday",
                                     "Saturday", "Sunday",  "Holiday",   "Special1", "Special2"};

bool Retryable(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

Status Field(std::string_view element, std::string_view field, std::string_view what) {
  return Status::InvalidArgument("<" + std::string(element) + "> " + std::string(field) + ": " +
                                 std::string(what));
}

// A date field that may be absent or empty; malformed is an error.
Status OptionalDate(const Element& e, std::string_view field, std::optional<LocalDateTime>* out) {
  const Element* f = e.Find(field);
  if (!f || f->text.empty()) return Status::Ok();
  auto t = ParseDateTime(f->text);
  if (!t) return Field(e.name, field, "expected yyyy-MM-ddTHH:mm:ss, got '" + f->text + "'");
  *out = *t;
  return Status::Ok();
}

Status OptionalBool(const Element& e, std::string_view field, bool* out) {
  const Element* f = e.Find(field);
  if (!f || f->text.empty()) return Status::Ok();
  auto b = ParseBool(f->text);
  if (!b) return Field(e.name, field, "expected 0 or 1, got '" + f->text + "'");
  *out = *b;
  return Status::Ok();
}

Result<int64_t> Integer(const Element& e, std::string_view field) {
  const std::string_view text = e.TextOf(field);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Field(e.name, field, "expected a number, got '" + std::string(text) + "'");
  }
  return v;
}

Result<std::vector<SpaceUser::DoorPermission>> ParseDoorPermissions(const Element& e,
                                                                    const char* list,
                                                                    const char* item) {
  std::vector<SpaceUser::DoorPermission> out;
  const Element* l = e.Find(list);
  if (!l) return out;
  for (const Element* p : l->FindAll(item)) {
    SpaceUser::DoorPermission d{std::string(p->TextOf("ExtDoorID")),
                                std::string(p->TextOf("ExtTimezoneTableID"))};
    if (d.ext_door_id.empty()) return Field(item, "ExtDoorID", "missing");
    out.push_back(std::move(d));
  }
  return out;
}

void AddDoorPermissions(const std::vector<SpaceUser::DoorPermission>& doors, const char* list,
                        const char* item, Element* e) {
  Element& l = e->Add(list);
  for (const auto& d : doors) {
    Element& p = l.Add(item);
    p.Add("ExtDoorID", d.ext_door_id);
    if (!d.ext_timezone_table_id.empty()) p.Add("ExtTimezoneTableID", d.ext_timezone_table_id);
  }
}

// "08:30", "08:30:00"; "24:00", and "23:59"/"23:59:59" as the end of the day, are 1440.
std::optional<int> ParseClock(std::string_view s, bool end) {
  if (s.size() != 5 && s.size() != 8) return std::nullopt;
  if (s[2] != ':' || (s.size() == 8 && s[5] != ':')) return std::nullopt;
  auto two = [&](size_t at) -> int {
    if (!std::isdigit(static_cast<unsigned char>(s[at])) ||
        !std::isdigit(static_cast<unsigned char>(s[at + 1]))) {
      return -1;
    }
    return (s[at] - '0') * 10 + (s[at + 1] - '0');
  };
  const int h = two(0), m = two(3), sec = s.size() == 8 ? two(6) : 0;
  if (h < 0 || m < 0 || sec < 0 || m > 59 || sec > 59) return std::nullopt;
  if (h == 24 && m == 0 && sec == 0) return end ? std::optional<int>(1440) : std::nullopt;
  if (h > 23) return std::nullopt;
  if (end && h == 23 && m == 59) return 1440;
  return h * 60 + m;
}

std::string FormatClock(int minute) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------- parsers

Result<SpaceUser> ParseUser(const Element& e) {
  SpaceUser u;
  u.ext_user_id = std::string(e.TextOf("ExtUserID"));
  if (u.ext_user_id.empty()) return Field(e.name, "ExtUserID", "missing");
  u.first_name = std::string(e.TextOf("FirstName"));
  u.last_name = std::string(e.TextOf("LastName"));
  FACEGATE_RETURN_IF_ERROR(OptionalDate(e, "UserActivation", &u.activation));
  bool expires = e.Find("UserExpiration.Enabled") == nullptr;  // absent: a date means it
  FACEGATE_RETURN_IF_ERROR(OptionalBool(e, "UserExpiration.Enabled", &expires));
  if (expires) FACEGATE_RETURN_IF_ERROR(OptionalDate(e, "UserExpiration", &u.expiration));
  FACEGATE_RETURN_IF_ERROR(OptionalBool(e, "IsBanned", &u.banned));
  auto doors = ParseDoorPermissions(e, kUserDoors, kUserDoor);
  if (!doors.ok()) return doors.status().WithContext("user " + u.ext_user_id);
  u.doors = std::move(doors).value();
  if (const Element* l = e.Find(kMemberships)) {
    for (const Element* m : l->FindAll(kMembership)) {
      std::string g(m->TextOf("ExtGroupID"));
      if (g.empty())
        return Field(kMembership, "ExtGroupID", "missing (user " + u.ext_user_id + ")");
      u.groups.push_back(std::move(g));
    }
  }
  return u;
}

Element UserElement(const SpaceUser& u) {
  Element e("SaltoDBUser");
  e.Add("ExtUserID", u.ext_user_id);
  e.Add("FirstName", u.first_name);
  e.Add("LastName", u.last_name);
  if (u.activation) e.Add("UserActivation", FormatDateTime(*u.activation));
  e.Add("UserExpiration.Enabled", std::string(FormatBool(u.expiration.has_value())));
  if (u.expiration) e.Add("UserExpiration", FormatDateTime(*u.expiration));
  e.Add("IsBanned", std::string(FormatBool(u.banned)));
  AddDoorPermissions(u.doors, kUserDoors, kUserDoor, &e);
  Element& groups = e.Add(kMemberships);
  for (const auto& g : u.groups) groups.Add(kMembership).Add("ExtGroupID", g);
  return e;
}

Result<SpaceTimezoneTable> ParseTimezoneTable(const Element& e) {
  SpaceTimezoneTable t;
  t.ext_timezone_table_id = std::string(e.TextOf("ExtTimezoneTableID"));
  if (t.ext_timezone_table_id.empty()) return Field(e.name, "ExtTimezoneTableID", "missing");
  t.name = std::string(e.TextOf("Name"));
  const Element* list = e.Find(kTimezones);
  if (!list) return t;
  for (const Element* z : list->FindAll(kTimezone)) {
    SpaceTimezoneTable::Interval iv;
    auto start = ParseClock(z->TextOf("StartTime"), false);
    auto end = ParseClock(z->TextOf("EndTime"), true);
    if (!start || !end || *start >= *end) {
      return Field(kTimezone, "StartTime/EndTime",
                   "expected HH:mm[:ss] with start before end, got '" +
                       std::string(z->TextOf("StartTime")) + "'-'" +
                       std::string(z->TextOf("EndTime")) + "' (table " + t.ext_timezone_table_id +
                       ")");
    }
    iv.start_minute = *start;
    iv.end_minute = *end;
    for (int d = 0; d < 10; ++d) {
      bool on = false;
      FACEGATE_RETURN_IF_ERROR(OptionalBool(*z, kDayNames[d], &on));
      if (on) iv.days.push_back(d + 1);
    }
    t.intervals.push_back(std::move(iv));
  }
  return t;
}

Element TimezoneTableElement(const SpaceTimezoneTable& t) {
  Element e("SaltoDBTimezoneTable");
  e.Add("ExtTimezoneTableID", t.ext_timezone_table_id);
  e.Add("Name", t.name);
  Element& list = e.Add(kTimezones);
  for (const auto& iv : t.intervals) {
    Element& z = list.Add(kTimezone);
    z.Add("StartTime", FormatClock(iv.start_minute));
    z.Add("EndTime", iv.end_minute >= 1440 ? "24:00" : FormatClock(iv.end_minute));
    for (int d = 0; d < 10; ++d) {
      const bool on = std::find(iv.days.begin(), iv.days.end(), d + 1) != iv.days.end();
      z.Add(kDayNames[d], std::string(FormatBool(on)));
    }
  }
  return e;
}

// ---------------------------------------------------------------- Client

Client::Client(std::unique_ptr<Transport> transport, ClientOptions options, const Clock& clock)
    : transport_(std::move(transport)), options_(options), clock_(clock) {}

Result<RequestResponse> Client::Call(const RequestCall& call, Clock::MonoTime deadline,
                                     bool idempotent) {
  const std::string xml = Encode(call);
  auto pause = options_.retry_pause;
  const int attempts = idempotent ? std::max(1, options_.read_attempts) : 1;
  Status last;
  for (int attempt = 1;; ++attempt) {
    auto body = transport_->Exchange(xml, deadline);
    if (body.ok()) {
      auto response = DecodeRequestResponse(*body);
      if (!response.ok()) {
        return response.status().WithContext("Salto Space at " + transport_->Describe() +
                                             " answered " + call.name + " with bad XML");
      }
      if (response->name != call.name) {
        return Status::InvalidArgument("Salto Space at " + transport_->Describe() + " answered " +
                                       call.name + " with a response to " + response->name);
      }
      if (response->exception) return StatusOf(*response->exception, call.name);
      return response;
    }
    last = body.status();
    if (!Retryable(last) || attempt >= attempts) break;
    if (clock_.Monotonic() + pause >= deadline) break;
    std::this_thread::sleep_for(pause);
    pause *= 2;
  }
  return last;
}

Result<SpaceInfo> Client::GetInfo() {
  RequestCall call{"GetInfo", Element("Params")};
  auto r = Call(call, clock_.Monotonic() + options_.request_timeout, true);
  if (!r.ok()) return r.status();
  SpaceInfo info;
  info.protocol_id = std::string(r->params.TextOf("ProtocolID"));
  info.protocol_version = std::string(r->params.TextOf("ProtocolVersion"));
  if (auto t = ParseDateTime(r->params.TextOf("DateTime"))) info.date_time = *t;
  if (info.protocol_id.empty()) {
    return Status::InvalidArgument("Salto Space at " + transport_->Describe() +
                                   " answered GetInfo without a ProtocolID");
  }
  return info;
}

Status Client::ReadPaged(const std::string& request, const std::string& list_element,
                         const std::string& item_element, const std::string& start_param,
                         const std::string& key_element, Element extra_params,
                         const std::function<Status(std::vector<const Element*>)>& on_page) {
  std::optional<std::string> after;
  std::set<std::string> seen;
  for (;;) {
    RequestCall call{request, Element("Params")};
    call.params.Add("MaxCount", std::to_string(options_.page_size));
    if (after) call.params.Add(start_param, *after);
    for (const auto& p : extra_params.children) call.params.children.push_back(p);
    auto r = Call(call, clock_.Monotonic() + options_.request_timeout, true);
    if (!r.ok()) return r.status();
    std::vector<const Element*> items;
    if (const Element* list = r->params.Find(list_element)) items = list->FindAll(item_element);
    // StartingFrom... may be inclusive: a page that begins with the last key seen repeats it.
    std::vector<const Element*> fresh;
    for (const Element* item : items) {
      std::string key(item->TextOf(key_element));
      if (key.empty()) return Field(item_element, key_element, "missing (" + request + ")");
      if (!seen.insert(key).second) continue;
      fresh.push_back(item);
    }
    if (seen.size() > options_.max_users) {
      return Status::ResourceExhausted(request + ": more than " +
                                       std::to_string(options_.max_users) + " items");
    }
    bool eof = true;
    if (const Element* e = r->params.Find("EOF")) {
      auto b = ParseBool(e->text);
      if (!b) return Field("Params", "EOF", "expected 0 or 1, got '" + e->text + "'");
      eof = *b;
    }
    if (!fresh.empty()) FACEGATE_RETURN_IF_ERROR(on_page(std::move(fresh)));
    if (eof) return Status::Ok();
    if (items.empty() || std::string(items.back()->TextOf(key_element)) == after.value_or("")) {
      return Status::Internal(request +
                              ": Salto Space said there is more (EOF 0) but the page "
                              "did not advance; stopped to avoid reading for ever");
    }
    after = std::string(items.back()->TextOf(key_element));
  }
}

Status Client::ReadUsers(const std::function<Status(std::vector<SpaceUser>)>& on_page) {
  Element extra("Params");
  extra.Add("ReturnAccessPermissions", "1");
  extra.Add("ReturnMemberships", "1");
  return ReadPaged("SaltoDBUserList.Read", "SaltoDBUserList", "SaltoDBUser",
                   "StartingFromExtUserID", "ExtUserID", extra,
                   [&](std::vector<const Element*> items) -> Status {
                     std::vector<SpaceUser> users;
                     users.reserve(items.size());
                     for (const Element* e : items) {
                       auto u = ParseUser(*e);
                       if (!u.ok()) return u.status();
                       users.push_back(std::move(u).value());
                     }
                     return on_page(std::move(users));
                   });
}

Result<std::vector<SpaceDoor>> Client::ReadDoors() {
  std::vector<SpaceDoor> out;
  Status s = ReadPaged(
      "SaltoDBDoorList.Read", "SaltoDBDoorList", "SaltoDBDoor", "StartingFromExtDoorID",
      "ExtDoorID", Element("Params"), [&](std::vector<const Element*> items) {
        for (const Element* e : items) {
          out.push_back({std::string(e->TextOf("ExtDoorID")), std::string(e->TextOf("Name"))});
        }
        return Status::Ok();
      });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<SpaceGroup>> Client::ReadGroups() {
  std::vector<SpaceGroup> out;
  Element extra("Params");
  extra.Add("ReturnAccessPermissions", "1");
  Status s = ReadPaged(
      "SaltoDBGroupList.Read", "SaltoDBGroupList", "SaltoDBGroup", "StartingFromExtGroupID",
      "ExtGroupID", extra, [&](std::vector<const Element*> items) -> Status {
        for (const Element* e : items) {
          SpaceGroup g{std::string(e->TextOf("ExtGroupID")), std::string(e->TextOf("Name")), {}};
          auto doors = ParseDoorPermissions(*e, kGroupDoors, kGroupDoor);
          if (!doors.ok()) {
            return doors.status().WithContext("group " + g.ext_group_id);
          }
          g.doors = std::move(doors).value();
          out.push_back(std::move(g));
        }
        return Status::Ok();
      });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<SpaceTimezoneTable>> Client::ReadTimezoneTables() {
  std::vector<SpaceTimezoneTable> out;
  Status s =
      ReadPaged("SaltoDBTimezoneTableList.Read", "SaltoDBTimezoneTableList", "SaltoDBTimezoneTable",
                "StartingFromExtTimezoneTableID", "ExtTimezoneTableID", Element("Params"),
                [&](std::vector<const Element*> items) -> Status {
                  for (const Element* e : items) {
                    auto t = ParseTimezoneTable(*e);
                    if (!t.ok()) return t.status();
                    out.push_back(std::move(t).value());
                  }
                  return Status::Ok();
                });
  if (!s.ok()) return s;
  return out;
}

namespace {

// Every element below `e` that has an ExtDoorID and an ErrorCode: the per-door answers,
// wherever Space nests them.
void CollectDoorResults(const Element& e, std::vector<const Element*>* out) {
  for (const auto& c : e.children) {
    if (c.Find("ExtDoorID") && c.Find("ErrorCode")) {
      out->push_back(&c);
    } else {
      CollectDoorResults(c, out);
    }
  }
}

}  // namespace

Result<std::vector<DoorOpenResult>> Client::OpenDoors(const std::vector<std::string>& ext_door_ids,
                                                      Clock::MonoTime deadline) {
  RequestCall call{"OnlineDoor.Open", Element("Params")};
  Element& list = call.params.Add("ExtDoorIDList");
  for (const auto& id : ext_door_ids) list.Add("ExtDoorID", id);
  auto r = Call(call, deadline, /*idempotent=*/false);
  if (!r.ok()) return r.status();
  std::vector<const Element*> answers;
  CollectDoorResults(r->params, &answers);
  std::vector<DoorOpenResult> out;
  for (const auto& id : ext_door_ids) {
    DoorOpenResult d{id, -1, "Salto Space did not answer for this door"};
    for (const Element* a : answers) {
      if (a->TextOf("ExtDoorID") != id) continue;
      auto code = Integer(*a, "ErrorCode");
      if (!code.ok()) return code.status();
      d.error_code = static_cast<int>(*code);
      d.message =
          a->Find("Message") ? std::string(a->TextOf("Message")) : ErrorCodeText(d.error_code);
      break;
    }
    // A single-door answer without per-door results (an older server) means it opened.
    if (d.error_code == -1 && answers.empty() && ext_door_ids.size() == 1) {
      d.error_code = error_code::kOk;
      d.message = "ok";
    }
    out.push_back(std::move(d));
  }
  return out;
}

Result<AuditPage> Client::ReadAuditTrail(int64_t starting_from_event_id, int max_count) {
  RequestCall call{"SaltoDBAuditTrail.Read", Element("Params")};
  call.params.Add("MaxCount", std::to_string(max_count));
  call.params.Add("StartingFromEventID", std::to_string(starting_from_event_id));
  auto r = Call(call, clock_.Monotonic() + options_.request_timeout, true);
  if (!r.ok()) return r.status();
  AuditPage page;
  if (const Element* list = r->params.Find("SaltoDBAuditTrail")) {
    for (const Element* e : list->FindAll("SaltoDBAuditTrailEvent")) {
      AuditEntry a;
      auto id = Integer(*e, "EventID");
      if (!id.ok()) return id.status();
      a.event_id = *id;
      FACEGATE_RETURN_IF_ERROR(OptionalDate(*e, "EventDateTime", &a.date_time));
      auto op = Integer(*e, "OperationID");
      if (!op.ok()) return op.status();
      a.operation = static_cast<int>(*op);
      a.ext_door_id = std::string(e->TextOf("ExtDoorID"));
      a.ext_user_id = std::string(e->TextOf("ExtUserID"));
      page.entries.push_back(std::move(a));
    }
  }
  if (const Element* e = r->params.Find("EOF")) page.eof = ParseBool(e->text).value_or(true);
  return page;
}

}  // namespace facegate::ship
