// Door terminals, access events (list and CSV export) and integrations.
#include <charconv>

#include "admin/admin_impl.h"
#include "facegate/api/device_api.h"
#include "facegate/connect/connect_service.h"
#include "facegate/core/time_format.h"
#include "facegate/net/pki.h"
#include "facegate/ship/space_service.h"

namespace facegate::admin::internal {

json DeviceJson(const store::Device& d) {
  return {{"id", d.id},
          {"name", d.name},
          {"door_id", d.door_id ? json(*d.door_id) : json(nullptr)},
          {"status", store::DeviceStatusName(d.status)},
          {"online", d.online},
          {"last_seen_at", TimeJson(d.last_seen_at)},
          {"firmware", d.firmware},
          {"certificate", d.cert_serial ? json{{"serial", *d.cert_serial},
                                               {"not_after", TimeJson(d.cert_not_after)},
                                               {"revoked", d.cert_revoked}}
                                        : json(nullptr)},
          {"created_at", TimeJson(d.created_at)},
          {"updated_at", TimeJson(d.updated_at)}};
}

namespace {

// Device names: what terminals are known by in logs and the console.
bool ValidDeviceName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char ch : n) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) {
      return false;
    }
  }
  return true;
}

// Commands a terminal understands (docs/device-api.md).
bool KnownCommand(std::string_view c) { return store::IsKnownDeviceCommand(c); }

std::string CsvField(std::string_view v) {
  bool quote = v.find_first_of(",\"\r\n") != std::string_view::npos;
  // A leading =, +, - or @ makes a spreadsheet run the cell as a formula: neutralise it.
  bool formula = !v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@');
  std::string out;
  if (formula) out += '\'';
  out += v;
  if (!quote && !formula) return out;
  std::string q = "\"";
  for (char ch : out) {
    if (ch == '"') q += '"';
    q += ch;
  }
  return q + "\"";
}

}  // namespace

// --- devices

Reply AdminApiImpl::ListDevices(Call& c) {
  FieldErrors e;
  Page page = ParsePage(c, &e);
  if (!e.empty()) return e.ToReply();
  auto devices = store().ListDevices(page.cursor, page.limit);
  if (!devices.ok()) return StatusReply(devices.status());
  const auto doors = DoorExternalIds(store());
  json items = json::array();
  for (const auto& d : *devices) {
    json j = DeviceJson(d);
    j["door"] = nullptr;
    if (auto it = d.door_id ? doors.find(*d.door_id) : doors.end(); it != doors.end()) {
      j["door"] = it->second;
    }
    items.push_back(std::move(j));
  }
  Reply r;
  r.body = PagedList(items, page.limit,
                     devices->empty() ? std::nullopt : std::optional<int64_t>(devices->back().id));
  return r;
}

namespace {

Result<store::Device> DeviceParam(store::Store& s, const Call& c) {
  if (c.params.empty()) return Status::NotFound("no device given");
  auto d = s.FindDeviceByName(c.params[0]);
  if (!d.ok() && d.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("no device named '" + c.params[0] + "'");
  }
  return d;
}

// The door named by `value` (external id) or none for JSON null.
Result<std::optional<int64_t>> DoorByExternalId(store::Store& s, const json& value) {
  if (value.is_null()) return std::optional<int64_t>();
  if (!value.is_string()) return Status::InvalidArgument("expected a door external id or null");
  auto door = s.FindDoorByExternalId(value.get<std::string>());
  if (!door.ok()) return door.status();
  if (!*door)
    return Status::NotFound("no door with external id '" + value.get<std::string>() + "'");
  return std::optional<int64_t>((*door)->id);
}

}  // namespace

Reply AdminApiImpl::GetDevice(Call& c) {
  auto d = DeviceParam(store(), c);
  if (!d.ok()) return StatusReply(d.status());
  json j = DeviceJson(*d);
  if (d->door_id) {
    if (auto door = store().GetDoor(*d->door_id); door.ok()) j["door"] = door->external_id;
  }
  Reply r;
  r.body = j;
  return r;
}

Reply AdminApiImpl::CreateDevice(Call& c) {
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  FieldErrors e;
  auto name = StringField(*body, "name", &e, true, 64);
  if (name && !ValidDeviceName(*name)) {
    e.Add("name", "1-64 characters of letters, digits, '-', '_' and '.'");
  }
  std::optional<int64_t> door_id;
  if (body->contains("door")) {
    auto door = DoorByExternalId(store(), (*body)["door"]);
    if (!door.ok()) {
      e.Add("door", door.status().message());
    } else {
      door_id = *door;
    }
  }
  for (auto it = body->begin(); it != body->end(); ++it) {
    if (it.key() != "name" && it.key() != "door") e.Add(it.key(), "unknown field");
  }
  if (!e.empty()) return e.ToReply();
  c.target = "device:" + *name;
  if (!context().ca) return ErrorReply(status::service_unavailable, "busy", "no local CA");
  auto id = store().AddDevice(store::NewDevice{*name, door_id});
  if (!id.ok()) {
    if (id.status().code() == StatusCode::kAlreadyExists) {
      return ErrorReply(status::conflict, "conflict", "a device named '" + *name + "' exists");
    }
    return StatusReply(id.status());
  }
  auto code = api::IssueCommissioningCode(store(), context().commissioning_secret, *id,
                                          context().commissioning_code_ttl_s, clock(),
                                          context().system.device_listener_address, DevicePort(),
                                          context().ca->info().sha256_fingerprint_hex);
  if (!code.ok()) return StatusReply(code.status());
  auto d = store().GetDevice(*id);
  if (!d.ok()) return StatusReply(d.status());
  json qr = json::parse(code->qr_payload, nullptr, false);
  return Created(
      {{"device", DeviceJson(*d)},
       {"commissioning",
        {{"code", code->code}, {"expires_at", TimeJson(code->expires_at)}, {"qr_payload", qr}}}});
}

Reply AdminApiImpl::PatchDevice(Call& c) {
  auto d = DeviceParam(store(), c);
  if (!d.ok()) return StatusReply(d.status());
  c.target = "device:" + d->name;
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  FieldErrors e;
  std::optional<std::optional<int64_t>> door;
  std::optional<store::DeviceStatus> new_status;
  for (auto it = body->begin(); it != body->end(); ++it) {
    if (it.key() == "door") {
      auto r = DoorByExternalId(store(), it.value());
      if (!r.ok()) {
        e.Add("door", r.status().message());
      } else {
        door = *r;
      }
    } else if (it.key() == "enabled") {
      if (!it->is_boolean()) {
        e.Add("enabled", "expected true or false");
      } else if (!it->get<bool>()) {
        new_status = store::DeviceStatus::kDisabled;
      } else if (d->status == store::DeviceStatus::kDisabled) {
        // Back to what its certificates say: the store keeps no "status before disabling".
        new_status = !d->cert_serial   ? store::DeviceStatus::kCreated
                     : d->cert_revoked ? store::DeviceStatus::kDecommissioned
                                       : store::DeviceStatus::kCommissioned;
      }
    } else {
      e.Add(it.key(), "unknown field (door, enabled)");
    }
  }
  if (!e.empty()) return e.ToReply();
  if (door) {
    if (Status s = store().SetDeviceDoor(d->id, *door); !s.ok()) return StatusReply(s);
  }
  if (new_status) {
    if (Status s = store().SetDeviceStatus(d->id, *new_status); !s.ok()) return StatusReply(s);
  }
  c.audit_details = *body;
  return GetDevice(c);
}

Reply AdminApiImpl::DeleteDevice(Call& c) {
  auto d = DeviceParam(store(), c);
  if (!d.ok()) return StatusReply(d.status());
  c.target = "device:" + d->name;
  if (Status s = store().DeleteDevice(d->id); !s.ok()) return StatusReply(s);
  Reply r;
  r.body = {{"deleted", true}, {"name", d->name}};
  return r;
}

Reply AdminApiImpl::NewDeviceCode(Call& c) {
  auto d = DeviceParam(store(), c);
  if (!d.ok()) return StatusReply(d.status());
  c.target = "device:" + d->name;
  if (d->status == store::DeviceStatus::kDisabled) {
    return ErrorReply(
        status::conflict, "conflict",
        "device " + d->name + " is disabled: enable it first (its codes are refused)");
  }
  if (!context().ca) return ErrorReply(status::service_unavailable, "busy", "no local CA");
  auto code = api::IssueCommissioningCode(store(), context().commissioning_secret, d->id,
                                          context().commissioning_code_ttl_s, clock(),
                                          context().system.device_listener_address, DevicePort(),
                                          context().ca->info().sha256_fingerprint_hex);
  if (!code.ok()) return StatusReply(code.status());
  json qr = json::parse(code->qr_payload, nullptr, false);
  return Created({{"device", d->name},
                  {"code", code->code},
                  {"expires_at", TimeJson(code->expires_at)},
                  {"qr_payload", qr}});
}

Reply AdminApiImpl::DecommissionDevice(Call& c) {
  auto d = DeviceParam(store(), c);
  if (!d.ok()) return StatusReply(d.status());
  c.target = "device:" + d->name;
  auto revoked = store().RevokeDeviceCertificates(d->id);
  if (!revoked.ok()) return StatusReply(revoked.status());
  c.audit_details = {{"certificates_revoked", *revoked}};
  Reply r;
  r.body = {{"device", d->name}, {"status", "decommissioned"}, {"certificates_revoked", *revoked}};
  return r;
}

Reply AdminApiImpl::QueueDeviceCommand(Call& c) {
  auto d = DeviceParam(store(), c);
  if (!d.ok()) return StatusReply(d.status());
  c.target = "device:" + d->name;
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  FieldErrors e;
  auto command = StringField(*body, "command", &e, true, 64);
  if (command && !KnownCommand(*command)) {
    e.Add("command", std::string("unknown command (") + store::kKnownDeviceCommands + ")");
  }
  std::optional<int64_t> expires_in;
  if (auto it = body->find("expires_in_s"); it != body->end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1) {
      e.Add("expires_in_s", "expected a positive number of seconds");
    } else {
      expires_in = it->get<int64_t>();
    }
  }
  json payload = body->value("payload", json::object());
  for (auto it = body->begin(); it != body->end(); ++it) {
    if (it.key() != "command" && it.key() != "payload" && it.key() != "expires_in_s") {
      e.Add(it.key(), "unknown field (command, payload, expires_in_s)");
    }
  }
  if (!e.empty()) return e.ToReply();
  store::NewDeviceCommand cmd;
  cmd.device_id = d->id;
  cmd.command = *command;
  cmd.payload_json = payload.dump();
  cmd.origin = "admin:" + c.who.name;
  if (expires_in) cmd.expires_at = clock().Now() + std::chrono::seconds(*expires_in);
  auto id = store().QueueDeviceCommand(cmd);
  if (!id.ok()) return StatusReply(id.status());
  c.audit_details = {{"command", cmd.command}, {"command_id", *id}};
  return Created({{"id", *id},
                  {"device", d->name},
                  {"command", cmd.command},
                  {"payload", payload},
                  {"expires_at", TimeJson(cmd.expires_at)}});
}

// --- events

namespace {

// The filters of GET /api/v1/events (and .csv), external ids resolved.
std::optional<Reply> ReadEventFilter(store::Store& s, const Call& c, store::EventFilter* f,
                                     Page* page) {
  FieldErrors e;
  *page = ParsePage(c, &e);
  f->from = TimeQuery(c, "from", &e);
  f->until = TimeQuery(c, "until", &e);
  if (auto v = c.Query("door"); v && !v->empty()) {
    auto door = s.FindDoorByExternalId(*v);
    if (!door.ok()) return StatusReply(door.status());
    if (!*door) return ErrorReply(status::not_found, "not_found", "no door '" + *v + "'");
    f->door_id = (*door)->id;
  }
  if (auto v = c.Query("user"); v && !v->empty()) {
    auto user = s.FindUserByExternalId(*v);
    if (!user.ok()) {
      // An erased user's events keep the external id, but the filter works on live users.
      return ErrorReply(status::not_found, "not_found", "no user '" + *v + "'");
    }
    f->user_id = user->id;
  }
  if (auto v = c.Query("device"); v && !v->empty()) {
    auto device = s.FindDeviceByName(*v);
    if (!device.ok()) return ErrorReply(status::not_found, "not_found", "no device '" + *v + "'");
    f->device_id = device->id;
  }
  if (auto v = c.Query("decision"); v && !v->empty()) {
    if (*v != "grant" && *v != "deny") {
      e.Add("decision", "expected grant or deny");
    } else {
      f->decision = *v;
    }
  }
  f->reason = c.Query("reason").value_or("");
  if (auto v = c.Query("after"); v && !v->empty()) {
    auto id = ParseInt64(*v);
    if (!id || *id < 0) {
      e.Add("after", "expected a decimal event id");
    } else {
      f->after_id = *id;
    }
  }
  if (!e.empty()) return e.ToReply();
  f->before_id = page->cursor;
  f->limit = page->limit;
  return std::nullopt;
}

}  // namespace

Reply AdminApiImpl::ListEvents(Call& c) {
  store::EventFilter f;
  Page page;
  if (auto refused = ReadEventFilter(store(), c, &f, &page)) return *refused;
  auto events = store().ListEvents(f);
  if (!events.ok()) return StatusReply(events.status());
  json items = json::array();
  for (const auto& ev : *events) items.push_back(EventJson(ev));
  Reply r;
  r.body = PagedList(items, page.limit,
                     events->empty() ? std::nullopt : std::optional<int64_t>(events->back().id));
  return r;
}

Reply AdminApiImpl::ExportEventsCsv(Call& c) {
  store::EventFilter f;
  Page page;
  if (auto refused = ReadEventFilter(store(), c, &f, &page)) return *refused;
  // The whole range, streamed page by page (the limit parameter sizes the store reads only),
  // so a year of events never sits in memory whole.
  f.limit = 1000;
  Reply r;
  r.content_type = "text/csv; charset=utf-8";
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"events.csv\"");
  r.stream = [this, &c, f](net::ChunkedWriter& out) mutable -> Status {
    const auto doors = DoorExternalIds(store());
    std::string csv = "id,time,door,device_id,user,decision,reason,distance,latency_ms,repeat\r\n";
    int64_t rows = 0;
    for (;;) {
      auto events = store().ListEvents(f);
      if (!events.ok()) return events.status();
      for (const auto& ev : *events) {
        std::string door;
        if (auto it = ev.event.door_id ? doors.find(*ev.event.door_id) : doors.end();
            it != doors.end()) {
          door = it->second;
        }
        char distance[32] = "";
        if (ev.event.distance) std::snprintf(distance, sizeof distance, "%.4f", *ev.event.distance);
        char latency[32];
        std::snprintf(latency, sizeof latency, "%.1f", ev.event.latency_ms);
        csv += std::to_string(ev.id) + "," + FormatRfc3339(ev.event.time) + "," + CsvField(door) +
               "," + (ev.event.device_id ? std::to_string(*ev.event.device_id) : "") + "," +
               CsvField(ev.user_external_id) + "," +
               std::string(store::DecisionName(ev.event.decision)) + "," +
               CsvField(ev.event.reason) + "," + distance + "," + latency + "," +
               (ev.event.repeat ? "1" : "0") + "\r\n";
        ++rows;
      }
      c.audit_details["rows"] = rows;
      if (!out.Write(csv)) return Status::Unavailable("the client stopped reading");
      csv.clear();
      if (static_cast<int>(events->size()) < f.limit) return Status::Ok();
      f.before_id = events->back().id;
    }
  };
  return r;
}

// --- integrations

namespace {

// Integrations this build knows, with the settings each requires before it may be enabled.
struct KnownIntegration {
  const char* name;
  const char* description;
  std::vector<const char*> required;
};

const std::vector<KnownIntegration>& KnownIntegrations() {
  static const std::vector<KnownIntegration> kKnown = {
      {"space", "Salto Space over SHIP: user sync and door opening", {"url"}},
      {"connect", "the vendor cloud link (MQTT over mTLS)", {"host"}},
      {"enrollment",
       "self-enrollment: people enroll their own face after consent",
       {"company_name", "privacy_policy_url"}},
  };
  return kKnown;
}

const KnownIntegration* FindKnown(std::string_view name) {
  for (const auto& k : KnownIntegrations())
    if (name == k.name) return &k;
  return nullptr;
}

// Settings keys whose values are secrets: never answered back, only whether they are set.
bool IsSecretKey(const std::string& key) { return store::IsSecretSettingKey(key); }

json DetailsJson(const std::string& text) {
  if (text.empty()) return nullptr;
  json j = json::parse(text, nullptr, false);
  return j.is_object() ? j : json(nullptr);
}

json IntegrationJson(const KnownIntegration& k, const std::optional<store::Integration>& row,
                     const std::string& details_json) {
  json settings = json::object();
  if (row) {
    json stored = json::parse(row->settings_json, nullptr, false);
    if (stored.is_object()) {
      for (auto it = stored.begin(); it != stored.end(); ++it) {
        settings[it.key()] = IsSecretKey(it.key()) ? json("(set)") : it.value();
      }
    }
  }
  return {{"name", k.name},
          {"description", k.description},
          {"enabled", row ? row->enabled : false},
          {"settings", settings},
          {"status", row ? store::IntegrationStatusName(row->status) : "no_status"},
          {"last_error", row ? json(row->last_error) : json("")},
          {"last_error_at", row ? TimeJson(row->last_error_at) : json(nullptr)},
          {"status_changed_at", row ? TimeJson(row->status_changed_at) : json(nullptr)},
          {"updated_at", row ? TimeJson(row->updated_at) : json(nullptr)},
          {"details", DetailsJson(details_json)}};
}

}  // namespace

Reply AdminApiImpl::ListIntegrations(Call&) {
  json items = json::array();
  for (const auto& k : KnownIntegrations()) {
    auto row = store().GetIntegration(k.name);
    if (!row.ok()) return StatusReply(row.status());
    items.push_back(IntegrationJson(k, *row, Details(k.name)));
  }
  Reply r;
  r.body = {{"items", items}, {"next_cursor", nullptr}};
  return r;
}

Reply AdminApiImpl::GetIntegration(Call& c) {
  const KnownIntegration* k = FindKnown(c.params.empty() ? "" : c.params[0]);
  if (!k) return ErrorReply(status::not_found, "not_found", "no integration '" + c.params[0] + "'");
  auto row = store().GetIntegration(k->name);
  if (!row.ok()) return StatusReply(row.status());
  Reply r;
  r.body = IntegrationJson(*k, *row, Details(k->name));
  return r;
}

Reply AdminApiImpl::PutIntegration(Call& c) {
  const KnownIntegration* k = FindKnown(c.params.empty() ? "" : c.params[0]);
  if (!k) return ErrorReply(status::not_found, "not_found", "no integration '" + c.params[0] + "'");
  c.target = std::string("integration:") + k->name;
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  FieldErrors e;
  auto enabled = BoolField(*body, "enabled", &e);
  json settings = json::object();
  auto current = store().GetIntegration(k->name);
  if (!current.ok()) return StatusReply(current.status());
  if (*current) {
    json stored = json::parse((*current)->settings_json, nullptr, false);
    if (stored.is_object()) settings = stored;
  }
  if (auto it = body->find("settings"); it != body->end()) {
    if (!it->is_object()) {
      e.Add("settings", "expected an object");
    } else {
      // Merge: a secret answered back as "(set)" keeps its value; null removes a key.
      for (auto s = it->begin(); s != it->end(); ++s) {
        if (s->is_null()) {
          settings.erase(s.key());
        } else if (!(IsSecretKey(s.key()) && *s == "(set)")) {
          settings[s.key()] = *s;
        }
      }
    }
  }
  for (auto it = body->begin(); it != body->end(); ++it) {
    if (it.key() != "enabled" && it.key() != "settings") {
      e.Add(it.key(), "unknown field (enabled, settings)");
    }
  }
  const bool will_enable = enabled.value_or(*current && (*current)->enabled);
  if (will_enable) {
    for (const char* key : k->required) {
      auto it = settings.find(key);
      if (it == settings.end() || !it->is_string() || it->get<std::string>().empty()) {
        e.Add(std::string("settings.") + key, "required before the integration can be enabled");
      }
    }
  }
  if (std::string_view(k->name) == "enrollment" && settings.contains("privacy_policy_url")) {
    const json& url = settings["privacy_policy_url"];
    if (!url.is_string() || (url.get<std::string>().rfind("https://", 0) != 0 &&
                             url.get<std::string>().rfind("http://", 0) != 0)) {
      e.Add("settings.privacy_policy_url", "expected an http(s) URL");
    }
  }
  if ((std::string_view(k->name) == "space" || std::string_view(k->name) == "connect") &&
      will_enable && e.empty()) {
    // The integration's own checks, so that a setting that cannot work is refused here with
    // its name rather than found later as no_status.
    Status parsed = std::string_view(k->name) == "space"
                        ? ship::ParseSpaceSettings(settings.dump()).status()
                        : connect::ParseConnectSettings(settings.dump()).status();
    if (!parsed.ok()) {
      std::string_view all = parsed.message();
      while (!all.empty()) {
        const size_t end = all.find("; ");
        std::string_view one = all.substr(0, end);
        const size_t colon = one.find(": ");
        if (colon == std::string_view::npos) {
          e.Add("settings", std::string(one));
        } else {
          e.Add(std::string(one.substr(0, colon)), std::string(one.substr(colon + 2)));
        }
        if (end == std::string_view::npos) break;
        all.remove_prefix(end + 2);
      }
    }
  }
  if (!e.empty()) return e.ToReply();
  if (Status s = store().PutIntegrationSettings(k->name, will_enable, settings.dump()); !s.ok()) {
    return StatusReply(s);
  }
  json keys = json::array();
  for (auto it = settings.begin(); it != settings.end(); ++it) keys.push_back(it.key());
  c.audit_details = {{"enabled", will_enable}, {"settings_keys", keys}};
  auto row = store().GetIntegration(k->name);
  if (!row.ok()) return StatusReply(row.status());
  Reply r;
  r.body = IntegrationJson(*k, *row, Details(k->name));
  return r;
}

Reply AdminApiImpl::SyncSpace(Call& c) {
  c.target = "integration:space";
  auto row = store().GetIntegration("space");
  if (!row.ok()) return StatusReply(row.status());
  if (!*row || !(*row)->enabled) {
    return ErrorReply(status::conflict, "not_enabled",
                      "the space integration is not enabled (PUT /api/v1/integrations/space)");
  }
  if (!ctx_.request_space_sync) {
    return ErrorReply(status::service_unavailable, "unavailable",
                      "this server runs no Salto Space integration");
  }
  ctx_.request_space_sync();
  Reply r;
  r.http = status::accepted;
  r.body = {{"requested", true},
            {"message", "a full sync starts now; GET /api/v1/integrations/space shows its status"}};
  return r;
}

// A new SHIP key, stored as the integration's api_key and answered once: the admin enters it
// in Salto Space. Both directions use it (Facegate's calls to Space, Space's calls here).
Reply AdminApiImpl::ResetSpaceKey(Call& c) {
  c.target = "integration:space";
  auto row = store().GetIntegration("space");
  if (!row.ok()) return StatusReply(row.status());
  json settings = json::object();
  if (*row) {
    json stored = json::parse((*row)->settings_json, nullptr, false);
    if (stored.is_object()) settings = stored;
  }
  auto key = RandomSecret();
  if (!key.ok()) return StatusReply(key.status());
  settings["api_key"] = *key;
  const bool enabled = *row && (*row)->enabled;
  if (Status s = store().PutIntegrationSettings("space", enabled, settings.dump()); !s.ok()) {
    return StatusReply(s);
  }
  c.audit_details = {{"api_key", "reset"}};  // never the key itself
  Reply r;
  r.body = {{"api_key", *key},
            {"shown_once", true},
            {"message",
             "enter this key in Salto Space (SHIP settings, custom authentication "
             "Salto-SHIP-Key); the old key no longer works for Facegate's calls"}};
  return r;
}

}  // namespace facegate::admin::internal
