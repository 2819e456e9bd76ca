#include "ship-sim/sim_state.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <utility>

#include "facegate/core/files.h"

namespace facegate::shipsim {
namespace {

using nlohmann::json;
using ship::Element;

constexpr int kDefaultMaxCount = 100;
constexpr int kLargestMaxCount = 1000;
// Space's audit operation for a door opened online (by a host request such as ours).
constexpr int kOperationDoorOpenedOnline = 17;
constexpr size_t kMaxDataFileBytes = 256u << 20;
constexpr std::string_view kUnknownName = "Unknown";

Status Bad(const std::string& where, const std::string& what) {
  return Status::InvalidArgument(where + ": " + what);
}

std::string Quoted(const json& value) {
  std::string text = value.dump();
  constexpr size_t kShown = 60;  // enough to recognise the value, not a screenful
  if (text.size() > kShown) text = text.substr(0, kShown) + "...";
  return text;
}

// Unknown keys are refused so that a typo ("expiry" for "expiration") is an error, not a
// field that silently keeps its default.
Status CheckObject(const json& value, const std::string& where,
                   std::initializer_list<std::string_view> allowed) {
  if (!value.is_object()) return Bad(where, "expected an object, got " + Quoted(value));
  for (const auto& [key, unused] : value.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string names;
      for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
      return Bad(where, "unknown field '" + key + "' (known: " + names + ")");
    }
  }
  return Status::Ok();
}

Result<std::string> StringField(const json& object, const std::string& key,
                                const std::string& where, bool required) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) return Bad(where + "." + key, "missing");
    return std::string();
  }
  if (!it->is_string()) return Bad(where + "." + key, "expected a string, got " + Quoted(*it));
  std::string text = it->get<std::string>();
  if (required && text.empty()) return Bad(where + "." + key, "must not be empty");
  return text;
}

Result<int64_t> IntegerField(const json& object, const std::string& key, const std::string& where,
                             int64_t fallback, int64_t low, int64_t high) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) {
    return Bad(where + "." + key, "expected an integer, got " + Quoted(*it));
  }
  const int64_t v = it->get<int64_t>();
  if (v < low || v > high) {
    return Bad(where + "." + key, "must be " + std::to_string(low) + " to " + std::to_string(high) +
                                      ", got " + std::to_string(v));
  }
  return v;
}

Result<std::optional<ship::LocalDateTime>> DateField(const json& object, const std::string& key,
                                                     const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<ship::LocalDateTime>();
  auto t = it->is_string() ? ship::ParseDateTime(it->get<std::string>()) : std::nullopt;
  if (!t) {
    return Bad(where + "." + key, "expected yyyy-MM-ddTHH:mm:ss or null, got " + Quoted(*it));
  }
  return std::optional<ship::LocalDateTime>(*t);
}

Result<std::vector<ship::SpaceUser::DoorPermission>> DoorPermissionsField(
    const json& object, const std::string& key, const std::string& where) {
  std::vector<ship::SpaceUser::DoorPermission> out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_array()) return Bad(where + "." + key, "expected an array, got " + Quoted(*it));
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string at = where + "." + key + "[" + std::to_string(i) + "]";
    const json& p = (*it)[i];
    FACEGATE_RETURN_IF_ERROR(CheckObject(p, at, {"door", "timezone"}));
    auto door = StringField(p, "door", at, true);
    if (!door.ok()) return door.status();
    auto timezone = StringField(p, "timezone", at, false);
    if (!timezone.ok()) return timezone.status();
    out.push_back({*door, *timezone});
  }
  return out;
}

Result<std::vector<std::string>> StringListField(const json& object, const std::string& key,
                                                 const std::string& where) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_array()) return Bad(where + "." + key, "expected an array, got " + Quoted(*it));
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    const std::string at = where + "." + key + "[" + std::to_string(i) + "]";
    if (!v.is_string() || v.get<std::string>().empty()) {
      return Bad(at, "expected a non-empty string, got " + Quoted(v));
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

// "08:00", "08:00:00"; as an end also "24:00". Minutes from midnight.
std::optional<int> ClockMinutes(std::string_view s, bool end) {
  if ((s.size() != 5 && s.size() != 8) || s[2] != ':' || (s.size() == 8 && s[5] != ':')) {
    return std::nullopt;
  }
  auto two = [&](size_t at) {
    const bool digits = std::isdigit(static_cast<unsigned char>(s[at])) &&
                        std::isdigit(static_cast<unsigned char>(s[at + 1]));
    return digits ? (s[at] - '0') * 10 + (s[at + 1] - '0') : -1;
  };
  const int h = two(0), m = two(3), sec = s.size() == 8 ? two(6) : 0;
  if (h < 0 || m < 0 || sec < 0 || m > 59 || sec > 59) return std::nullopt;
  if (h == 24) return end && m == 0 && sec == 0 ? std::optional<int>(1440) : std::nullopt;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

Result<ship::SpaceTimezoneTable> TimezoneFromJson(const json& t, const std::string& where) {
  FACEGATE_RETURN_IF_ERROR(CheckObject(t, where, {"ext_timezone_table_id", "name", "intervals"}));
  ship::SpaceTimezoneTable table;
  auto id = StringField(t, "ext_timezone_table_id", where, true);
  if (!id.ok()) return id.status();
  table.ext_timezone_table_id = *id;
  auto name = StringField(t, "name", where, false);
  if (!name.ok()) return name.status();
  table.name = *name;
  auto it = t.find("intervals");
  if (it == t.end() || it->is_null()) return table;
  if (!it->is_array()) return Bad(where + ".intervals", "expected an array, got " + Quoted(*it));
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string at = where + ".intervals[" + std::to_string(i) + "]";
    const json& iv = (*it)[i];
    FACEGATE_RETURN_IF_ERROR(CheckObject(iv, at, {"start", "end", "days"}));
    auto start_text = StringField(iv, "start", at, true);
    if (!start_text.ok()) return start_text.status();
    auto end_text = StringField(iv, "end", at, true);
    if (!end_text.ok()) return end_text.status();
    auto start = ClockMinutes(*start_text, false);
    auto end = ClockMinutes(*end_text, true);
    if (!start) return Bad(at + ".start", "expected HH:mm, got '" + *start_text + "'");
    if (!end) return Bad(at + ".end", "expected HH:mm (24:00 allowed), got '" + *end_text + "'");
    if (*start >= *end) {
      return Bad(at, "start " + *start_text + " is not before end " + *end_text);
    }
    ship::SpaceTimezoneTable::Interval interval{*start, *end, {}};
    auto days = iv.find("days");
    if (days != iv.end() && !days->is_null()) {
      if (!days->is_array()) return Bad(at + ".days", "expected an array, got " + Quoted(*days));
      for (const json& d : *days) {
        if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > 10) {
          return Bad(at + ".days",
                     "expected days 1-7 (Monday..Sunday), 8 (holiday), 9 or 10 "
                     "(special days), got " +
                         Quoted(d));
        }
        interval.days.push_back(d.get<int>());
      }
    }
    table.intervals.push_back(std::move(interval));
  }
  return table;
}

// Reads the array `key` of the data file, each item with `parse`, into `out` by `id_of`.
template <class T, class Parse, class IdOf>
Status ReadArray(const json& root, const std::string& key, const std::string& source, Parse parse,
                 IdOf id_of, std::map<std::string, T>* out) {
  auto it = root.find(key);
  if (it == root.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return Bad(source + ": " + key, "expected an array, got " + Quoted(*it));
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string at = source + ": " + key + "[" + std::to_string(i) + "]";
    Result<T> item = parse((*it)[i], at);
    if (!item.ok()) return item.status();
    std::string id = id_of(*item);
    if (out->count(id) != 0) return Bad(at, "id '" + id + "' appears twice");
    out->emplace(std::move(id), std::move(item).value());
  }
  return Status::Ok();
}

Result<ship::SpaceDoor> DoorFromJson(const json& d, const std::string& where) {
  FACEGATE_RETURN_IF_ERROR(CheckObject(d, where, {"ext_door_id", "name"}));
  auto id = StringField(d, "ext_door_id", where, true);
  if (!id.ok()) return id.status();
  auto name = StringField(d, "name", where, false);
  if (!name.ok()) return name.status();
  return ship::SpaceDoor{*id, *name};
}

Result<ship::SpaceGroup> GroupFromJson(const json& g, const std::string& where) {
  FACEGATE_RETURN_IF_ERROR(CheckObject(g, where, {"ext_group_id", "name", "doors"}));
  auto id = StringField(g, "ext_group_id", where, true);
  if (!id.ok()) return id.status();
  auto name = StringField(g, "name", where, false);
  if (!name.ok()) return name.status();
  auto doors = DoorPermissionsField(g, "doors", where);
  if (!doors.ok()) return doors.status();
  return ship::SpaceGroup{*id, *name, *doors};
}

// ---------------------------------------------------------------- SHIP parameters

Result<int64_t> IntegerParam(const Element& params, std::string_view name, int64_t fallback) {
  const Element* e = params.Find(name);
  if (!e || e->text.empty()) return fallback;
  int64_t v = 0;
  const std::string& t = e->text;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || ptr != t.data() + t.size()) {
    return Status::InvalidArgument(std::string(name) + ": expected a number, got '" + t + "'");
  }
  return v;
}

Result<int> MaxCountParam(const Element& params) {
  auto v = IntegerParam(params, "MaxCount", kDefaultMaxCount);
  if (!v.ok()) return v.status();
  return static_cast<int>(std::clamp<int64_t>(*v, 1, kLargestMaxCount));
}

// One page of a list read: items strictly after StartingFrom<key>, at most MaxCount, then EOF.
template <class T, class ToElement>
Result<Element> Page(const std::map<std::string, T>& items, const Element& request_params,
                     std::string_view start_param, const char* list_name, ToElement to_element) {
  auto max_count = MaxCountParam(request_params);
  if (!max_count.ok()) return max_count.status();
  auto it = items.begin();
  if (const Element* start = request_params.Find(start_param); start && !start->text.empty()) {
    it = items.upper_bound(start->text);
  }
  Element params("Params");
  Element list(list_name);
  for (int n = 0; it != items.end() && n < *max_count; ++it, ++n) {
    list.children.push_back(to_element(it->second));
  }
  params.children.push_back(std::move(list));
  params.Add("EOF", std::string(ship::FormatBool(it == items.end())));
  return params;
}

Element DoorElement(const ship::SpaceDoor& d) {
  Element e("SaltoDBDoor");
  e.Add("ExtDoorID", d.ext_door_id);
  e.Add("Name", d.name);
  return e;
}

Element GroupElement(const ship::SpaceGroup& g) {
  Element e("SaltoDBGroup");
  e.Add("ExtGroupID", g.ext_group_id);
  e.Add("Name", g.name);
  Element list("SaltoDB.AccessPermissionList.Group_Door");
  for (const auto& d : g.doors) {
    Element& p = list.Add("SaltoDB.AccessPermission.Group_Door");
    p.Add("ExtDoorID", d.ext_door_id);
    p.Add("ExtTimezoneTableID", d.ext_timezone_table_id);
  }
  e.children.push_back(std::move(list));
  return e;
}

// The request name of XML too broken to decode, when its <RequestName> can still be seen.
std::string NameByScan(std::string_view xml) {
  constexpr std::string_view kOpen = "<RequestName>", kClose = "</RequestName>";
  const size_t open = xml.find(kOpen);
  if (open == std::string_view::npos) return std::string(kUnknownName);
  const size_t from = open + kOpen.size();
  const size_t close = xml.find(kClose, from);
  constexpr size_t kLongestName = 100;
  if (close == std::string_view::npos || close == from || close - from > kLongestName) {
    return std::string(kUnknownName);
  }
  std::string_view name = xml.substr(from, close - from);
  const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_';
  });
  return plain ? std::string(name) : std::string(kUnknownName);
}

std::string OversizedBody(const std::string& request_name, size_t bytes) {
  const std::string head =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><RequestResponse><RequestName>" + request_name +
      "</RequestName><Params><Padding>";
  const std::string tail = "</Padding></Params></RequestResponse>";
  const size_t fill = bytes > head.size() + tail.size() ? bytes - head.size() - tail.size() : 0;
  std::string body;
  body.reserve(head.size() + fill + tail.size());
  body += head;
  body.append(fill, 'x');
  body += tail;
  return body;
}

constexpr std::string_view kHtmlPage =
    "<!DOCTYPE html><html><head><title>Salto Space</title></head><body><h1>Salto Space</h1>"
    "<p>This is not SHIP (ship-sim fault wrong_content_type).</p></body></html>";

}  // namespace

// ---------------------------------------------------------------- data file

Result<ship::SpaceUser> UserFromJson(const json& u, const std::string& where) {
  FACEGATE_RETURN_IF_ERROR(CheckObject(u, where,
                                       {"ext_user_id", "first_name", "last_name", "activation",
                                        "expiration", "banned", "doors", "groups"}));
  ship::SpaceUser user;
  auto id = StringField(u, "ext_user_id", where, true);
  if (!id.ok()) return id.status();
  user.ext_user_id = *id;
  auto first = StringField(u, "first_name", where, false);
  if (!first.ok()) return first.status();
  user.first_name = *first;
  auto last = StringField(u, "last_name", where, false);
  if (!last.ok()) return last.status();
  user.last_name = *last;
  auto activation = DateField(u, "activation", where);
  if (!activation.ok()) return activation.status();
  user.activation = *activation;
  auto expiration = DateField(u, "expiration", where);
  if (!expiration.ok()) return expiration.status();
  user.expiration = *expiration;
  if (auto b = u.find("banned"); b != u.end() && !b->is_null()) {
    if (!b->is_boolean())
      return Bad(where + ".banned", "expected true or false, got " + Quoted(*b));
    user.banned = b->get<bool>();
  }
  auto doors = DoorPermissionsField(u, "doors", where);
  if (!doors.ok()) return doors.status();
  user.doors = *doors;
  auto groups = StringListField(u, "groups", where);
  if (!groups.ok()) return groups.status();
  user.groups = *groups;
  return user;
}

Result<SimData> ParseSimData(std::string_view json_text, std::string_view source_name) {
  const std::string source(source_name);
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    // nlohmann's message names the byte where the JSON went wrong.
    return Status::InvalidArgument(source + ": not valid JSON: " + e.what());
  }
  FACEGATE_RETURN_IF_ERROR(
      CheckObject(root, source, {"users", "doors", "groups", "timezones", "door_errors"}));
  SimData data;
  FACEGATE_RETURN_IF_ERROR(ReadArray(
      root, "users", source, UserFromJson, [](const ship::SpaceUser& u) { return u.ext_user_id; },
      &data.users));
  FACEGATE_RETURN_IF_ERROR(ReadArray(
      root, "doors", source, DoorFromJson, [](const ship::SpaceDoor& d) { return d.ext_door_id; },
      &data.doors));
  FACEGATE_RETURN_IF_ERROR(ReadArray(
      root, "groups", source, GroupFromJson,
      [](const ship::SpaceGroup& g) { return g.ext_group_id; }, &data.groups));
  FACEGATE_RETURN_IF_ERROR(ReadArray(
      root, "timezones", source, TimezoneFromJson,
      [](const ship::SpaceTimezoneTable& t) { return t.ext_timezone_table_id; }, &data.timezones));
  if (auto errors = root.find("door_errors"); errors != root.end() && !errors->is_null()) {
    if (!errors->is_object()) {
      return Bad(source + ": door_errors",
                 "expected an object of door id to error code, got " + Quoted(*errors));
    }
    for (const auto& [door, code] : errors->items()) {
      if (!code.is_number_integer()) {
        return Bad(source + ": door_errors." + door, "expected an integer, got " + Quoted(code));
      }
      data.door_errors[door] = code.get<int>();
    }
  }
  return data;
}

Result<SimData> LoadSimData(const std::filesystem::path& file) {
  auto text = ReadFile(file, kMaxDataFileBytes);
  if (!text.ok()) return text.status().WithContext("data file " + file.string());
  return ParseSimData(*text, file.string());
}

// ---------------------------------------------------------------- faults

std::string_view FaultModeName(FaultMode mode) {
  switch (mode) {
    case FaultMode::kNone:
      return "none";
    case FaultMode::kUnauthorized:
      return "unauthorized";
    case FaultMode::kHang:
      return "hang";
    case FaultMode::kDrop:
      return "drop";
    case FaultMode::kMalformed:
      return "malformed";
    case FaultMode::kException:
      return "exception";
    case FaultMode::kWrongContentType:
      return "wrong_content_type";
    case FaultMode::kOversized:
      return "oversized";
    case FaultMode::kSlow:
      return "slow";
    case FaultMode::kDown:
      return "down";
  }
  return "none";
}

Result<FaultMode> ParseFaultMode(std::string_view name) {
  constexpr FaultMode kAll[] = {FaultMode::kNone,
                                FaultMode::kUnauthorized,
                                FaultMode::kHang,
                                FaultMode::kDrop,
                                FaultMode::kMalformed,
                                FaultMode::kException,
                                FaultMode::kWrongContentType,
                                FaultMode::kOversized,
                                FaultMode::kSlow,
                                FaultMode::kDown};
  std::string names;
  for (FaultMode m : kAll) {
    if (FaultModeName(m) == name) return m;
    names += (names.empty() ? "" : ", ") + std::string(FaultModeName(m));
  }
  return Status::InvalidArgument("unknown fault mode '" + std::string(name) + "' (known: " + names +
                                 ")");
}

bool Fault::AppliesTo(std::string_view request_name) const {
  return mode != FaultMode::kNone && (only.empty() || only == request_name);
}

json Fault::ToJson() const {
  return {
      {"mode", FaultModeName(mode)}, {"code", code}, {"bytes", bytes}, {"delay_ms", delay.count()},
      {"seconds", seconds.count()},  {"only", only}};
}

Result<Fault> FaultFromJson(const json& body) {
  FACEGATE_RETURN_IF_ERROR(
      CheckObject(body, "fault", {"mode", "code", "bytes", "delay_ms", "seconds", "only"}));
  Fault f;
  auto mode_name = StringField(body, "mode", "fault", true);
  if (!mode_name.ok()) return mode_name.status();
  auto mode = ParseFaultMode(*mode_name);
  if (!mode.ok()) return mode.status().WithContext("fault.mode");
  f.mode = *mode;
  auto code = IntegerField(body, "code", "fault", f.code, 0, 1000000);
  if (!code.ok()) return code.status();
  f.code = static_cast<int>(*code);
  auto bytes = IntegerField(body, "bytes", "fault", static_cast<int64_t>(f.bytes), 1,
                            static_cast<int64_t>(kMaxOversizedBytes));
  if (!bytes.ok()) return bytes.status();
  f.bytes = static_cast<size_t>(*bytes);
  constexpr int64_t kLongestDelayMs = 600000;
  auto delay = IntegerField(body, "delay_ms", "fault", f.delay.count(), 0, kLongestDelayMs);
  if (!delay.ok()) return delay.status();
  f.delay = std::chrono::milliseconds(*delay);
  constexpr int64_t kLongestDownSeconds = 3600;
  auto seconds = IntegerField(body, "seconds", "fault", f.seconds.count(), 1, kLongestDownSeconds);
  if (!seconds.ok()) return seconds.status();
  f.seconds = std::chrono::seconds(*seconds);
  auto only = StringField(body, "only", "fault", false);
  if (!only.ok()) return only.status();
  f.only = *only;
  return f;
}

Result<UserGenerateSpec> UserGenerateSpecFromJson(const json& body) {
  const std::string where = "generate";
  FACEGATE_RETURN_IF_ERROR(
      CheckObject(body, where, {"count", "prefix", "first", "doors", "groups"}));
  UserGenerateSpec spec;
  if (body.find("count") == body.end()) return Bad(where + ".count", "missing");
  auto count = IntegerField(body, "count", where, 0, 1, kMaxGeneratedUsers);
  if (!count.ok()) return count.status();
  spec.count = static_cast<int>(*count);
  if (body.contains("prefix")) {
    auto prefix = StringField(body, "prefix", where, false);
    if (!prefix.ok()) return prefix.status();
    spec.prefix = *prefix;
  }
  auto first = IntegerField(body, "first", where, spec.first, 0, 100000000);
  if (!first.ok()) return first.status();
  spec.first = static_cast<int>(*first);
  auto doors = DoorPermissionsField(body, "doors", where);
  if (!doors.ok()) return doors.status();
  spec.doors = *doors;
  auto groups = StringListField(body, "groups", where);
  if (!groups.ok()) return groups.status();
  spec.groups = *groups;
  return spec;
}

// ---------------------------------------------------------------- SimState

std::string LocalDateTimeText(Clock::WallTime t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm local{};
  localtime_r(&seconds, &local);
  return ship::FormatDateTime({local.tm_year + 1900, local.tm_mon + 1, local.tm_mday, local.tm_hour,
                               local.tm_min, local.tm_sec});
}

SimState::SimState(SimData data, const Clock& clock) : clock_(clock), data_(std::move(data)) {}

ShipRequest SimState::ReadRequest(std::string_view xml) {
  ShipRequest request;
  auto call = ship::DecodeRequestCall(xml);
  if (call.ok()) {
    request.name = call->name;
    request.call = std::move(call).value();
  } else {
    request.name = NameByScan(xml);
    request.error = call.status();
  }
  std::lock_guard lock(mu_);
  ++request_counts_[request.name];
  return request;
}

ship::Element SimState::GetInfo() const {
  Element params("Params");
  params.Add("ProtocolID", "SHIP");
  params.Add("ProtocolVersion", "1.23");
  params.Add("DateTime", LocalDateTimeText(clock_.Now()));
  return params;
}

// Called with mu_ held.
Result<ship::Element> SimState::ReadList(const ship::RequestCall& call) const {
  const Element& p = call.params;
  if (call.name == "SaltoDBUserList.Read") {
    return Page(data_.users, p, "StartingFromExtUserID", "SaltoDBUserList", ship::UserElement);
  }
  if (call.name == "SaltoDBDoorList.Read") {
    return Page(data_.doors, p, "StartingFromExtDoorID", "SaltoDBDoorList", DoorElement);
  }
  if (call.name == "SaltoDBGroupList.Read") {
    return Page(data_.groups, p, "StartingFromExtGroupID", "SaltoDBGroupList", GroupElement);
  }
  return Page(data_.timezones, p, "StartingFromExtTimezoneTableID", "SaltoDBTimezoneTableList",
              ship::TimezoneTableElement);
}

// Called with mu_ held.
Result<ship::Element> SimState::OpenDoors(const ship::RequestCall& call,
                                          std::string_view transport) {
  const Element* asked = call.params.Find("ExtDoorIDList");
  const std::vector<const Element*> ids =
      asked ? asked->FindAll("ExtDoorID") : std::vector<const Element*>{};
  if (ids.empty()) {
    return Status::InvalidArgument("ExtDoorIDList: expected at least one ExtDoorID");
  }
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
          .count();
  Element params("Params");
  Element list("ExtDoorIDList");
  for (const Element* id : ids) {
    int code =
        data_.doors.count(id->text) != 0 ? ship::error_code::kOk : ship::error_code::kDoorNotFound;
    if (auto e = data_.door_errors.find(id->text); e != data_.door_errors.end()) code = e->second;
    const int64_t event_id = code == ship::error_code::kOk ? next_event_id_++ : 0;
    openings_.push_back({id->text, now_ms, std::string(transport), code, event_id});
    Element& door = list.Add("ExtDoor");
    door.Add("ExtDoorID", id->text);
    door.Add("ErrorCode", std::to_string(code));
  }
  params.children.push_back(std::move(list));
  return params;
}

// Called with mu_ held.
Result<ship::Element> SimState::ReadAuditTrail(const ship::RequestCall& call) const {
  auto max_count = MaxCountParam(call.params);
  if (!max_count.ok()) return max_count.status();
  auto from = IntegerParam(call.params, "StartingFromEventID", 0);
  if (!from.ok()) return from.status();
  Element params("Params");
  Element trail("SaltoDBAuditTrail");
  int n = 0;
  bool eof = true;
  for (const Opening& o : openings_) {
    if (o.event_id == 0 || o.event_id < *from) continue;
    if (n == *max_count) {
      eof = false;
      break;
    }
    Element& event = trail.Add("SaltoDBAuditTrailEvent");
    event.Add("EventID", std::to_string(o.event_id));
    event.Add("EventDateTime",
              LocalDateTimeText(Clock::WallTime(std::chrono::milliseconds(o.at_ms))));
    event.Add("OperationID", std::to_string(kOperationDoorOpenedOnline));
    event.Add("ExtDoorID", o.door);
    event.Add("ExtUserID", "");
    ++n;
  }
  params.children.push_back(std::move(trail));
  params.Add("EOF", std::string(ship::FormatBool(eof)));
  return params;
}

ship::RequestResponse SimState::Respond(const ShipRequest& request, std::string_view transport) {
  ship::RequestResponse response;
  response.name = request.name;
  if (!request.call) {
    response.exception =
        ship::ShipException{ship::error_code::kXmlMalformed, request.error.message()};
    return response;
  }
  const ship::RequestCall& call = *request.call;
  Result<Element> params = Element("Params");
  if (call.name == "GetInfo") {
    params = GetInfo();
  } else if (call.name == "SaltoDBUserList.Read" || call.name == "SaltoDBDoorList.Read" ||
             call.name == "SaltoDBGroupList.Read" || call.name == "SaltoDBTimezoneTableList.Read") {
    std::lock_guard lock(mu_);
    params = ReadList(call);
  } else if (call.name == "OnlineDoor.Open") {
    std::lock_guard lock(mu_);
    params = OpenDoors(call, transport);
  } else if (call.name == "SaltoDBAuditTrail.Read") {
    std::lock_guard lock(mu_);
    params = ReadAuditTrail(call);
  } else {
    response.exception = ship::ShipException{ship::error_code::kUnknownRequest, "Unknown request"};
    return response;
  }
  if (!params.ok()) {
    response.exception =
        ship::ShipException{ship::error_code::kInvalidParameter, params.status().message()};
    return response;
  }
  response.params = std::move(params).value();
  return response;
}

std::string SimState::Answer(const ShipRequest& request, std::string_view transport) {
  return ship::Encode(Respond(request, transport));
}

Served SimState::Serve(std::string_view xml, std::string_view transport) {
  ShipRequest request = ReadRequest(xml);
  const Fault fault = FaultFor(request.name);
  Served served;
  served.request_name = request.name;
  const std::string fault_note = ", fault " + std::string(FaultModeName(fault.mode));
  if (fault.mode == FaultMode::kUnauthorized) {
    served.action = Served::Action::kUnauthorized;
    served.result = "refused" + fault_note;
    return served;
  }
  if (fault.mode == FaultMode::kException) {
    ship::RequestResponse refusal;
    refusal.name = request.name;
    refusal.exception = ship::ShipException{fault.code, "Simulated fault"};
    served.body = ship::Encode(refusal);
    served.result = "exception " + std::to_string(fault.code) + fault_note;
    return served;
  }
  const ship::RequestResponse response = Respond(request, transport);
  served.body = ship::Encode(response);
  served.result = response.exception ? "exception " + std::to_string(response.exception->code)
                                     : std::string("ok");
  switch (fault.mode) {
    case FaultMode::kHang:
      served.action = Served::Action::kHang;
      served.body.clear();
      break;
    case FaultMode::kDrop:
      served.action = Served::Action::kDrop;
      served.body.clear();
      break;
    case FaultMode::kMalformed:
      // Cut in half, the root element is never closed: no XML parser accepts it.
      served.body.resize(served.body.size() / 2);
      break;
    case FaultMode::kWrongContentType:
      served.body = std::string(kHtmlPage);
      served.html = true;
      break;
    case FaultMode::kOversized:
      served.body = OversizedBody(request.name, fault.bytes);
      break;
    case FaultMode::kSlow:
      served.delay = fault.delay;
      break;
    default:
      return served;
  }
  served.result += fault_note;
  return served;
}

void SimState::SetFault(Fault fault) {
  std::lock_guard lock(mu_);
  fault_ = std::move(fault);
}

Fault SimState::fault() const {
  std::lock_guard lock(mu_);
  return fault_;
}

Fault SimState::FaultFor(std::string_view request_name) const {
  std::lock_guard lock(mu_);
  if (fault_.mode == FaultMode::kDown || !fault_.AppliesTo(request_name)) return Fault{};
  return fault_;
}

void SimState::PutUser(ship::SpaceUser user) {
  std::lock_guard lock(mu_);
  std::string id = user.ext_user_id;
  data_.users.insert_or_assign(std::move(id), std::move(user));
}

bool SimState::DeleteUser(const std::string& ext_user_id) {
  std::lock_guard lock(mu_);
  return data_.users.erase(ext_user_id) != 0;
}

void SimState::GenerateUsers(const UserGenerateSpec& spec) {
  const int last = spec.first + spec.count - 1;
  const int width = std::max<int>(5, static_cast<int>(std::to_string(last).size()));
  std::lock_guard lock(mu_);
  for (int n = spec.first; n <= last; ++n) {
    char number[32];
    std::snprintf(number, sizeof number, "%0*d", width, n);
    ship::SpaceUser user;
    user.ext_user_id = spec.prefix + number;
    user.first_name = "Generated";
    user.last_name = number;
    user.doors = spec.doors;
    user.groups = spec.groups;
    std::string id = user.ext_user_id;
    data_.users.insert_or_assign(std::move(id), std::move(user));
  }
}

std::vector<Opening> SimState::openings() const {
  std::lock_guard lock(mu_);
  return openings_;
}

void SimState::ClearOpenings() {
  std::lock_guard lock(mu_);
  openings_.clear();
}

void SimState::CountUnauthorized() {
  std::lock_guard lock(mu_);
  ++unauthorized_;
}

json SimState::StatsJson() const {
  std::lock_guard lock(mu_);
  json requests = json::object();
  for (const auto& [name, count] : request_counts_) requests[name] = count;
  return {{"requests", requests},
          {"users", data_.users.size()},
          {"doors", data_.doors.size()},
          {"groups", data_.groups.size()},
          {"timezones", data_.timezones.size()},
          {"openings", openings_.size()},
          {"unauthorized", unauthorized_},
          {"fault", fault_.ToJson()}};
}

json SimState::OpeningsJson() const {
  std::lock_guard lock(mu_);
  json list = json::array();
  for (const Opening& o : openings_) {
    json entry = {{"door", o.door},
                  {"at_ms", o.at_ms},
                  {"transport", o.transport},
                  {"error_code", o.error_code}};
    entry["event_id"] = o.event_id != 0 ? json(o.event_id) : json(nullptr);
    list.push_back(std::move(entry));
  }
  return {{"openings", std::move(list)}};
}

size_t SimState::user_count() const {
  std::lock_guard lock(mu_);
  return data_.users.size();
}

}  // namespace facegate::shipsim
