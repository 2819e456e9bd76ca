// Users (by external id), their faces, subject-access export and erasure.
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "admin/admin_impl.h"
#include "facegate/face/matching.h"
#include "facegate/face/quality_json.h"

namespace facegate::admin::internal {

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
          {"created_at", TimeJson(u.created_at)},
          {"updated_at", TimeJson(u.updated_at)}};
}

json TemplateJson(const store::TemplateInfo& t) {
  json quality = json::parse(t.quality_json, nullptr, false);
  return {{"id", t.id},
          {"user", t.user_external_id},
          {"source", store::TemplateSourceName(t.source)},
          {"model_version", t.model_version},
          {"quality", quality.is_discarded() ? json::object() : quality},
          {"created_at", TimeJson(t.created_at)},
          {"key_id", t.key_id},
          {"photo", t.has_photo}};
}

json EventJson(const store::StoredEvent& s) {
  const store::AccessEvent& e = s.event;
  json details = json::parse(e.details_json, nullptr, false);
  return {{"id", s.id},
          {"time", TimeJson(e.time)},
          {"device_id", e.device_id ? json(*e.device_id) : json(nullptr)},
          {"door_id", e.door_id ? json(*e.door_id) : json(nullptr)},
          {"user", s.user_external_id.empty() ? json(nullptr) : json(s.user_external_id)},
          {"decision", store::DecisionName(e.decision)},
          {"reason", e.reason},
          {"distance", e.distance ? json(*e.distance) : json(nullptr)},
          {"latency_ms", e.latency_ms},
          {"request_id", e.request_id},
          {"repeat", e.repeat},
          {"details", details.is_discarded() ? json::object() : details}};
}

namespace {

// Reads the user fields present in `body` into `u`; `creating` requires external_id.
void ReadUserFields(const json& body, bool creating, store::User* u, FieldErrors* e) {
  if (creating) {
    if (auto v = StringField(body, "external_id", e, true, kMaxExternalId)) u->external_id = *v;
  } else if (body.contains("external_id")) {
    e->Add("external_id", "cannot be changed (erase the user and create another)");
  }
  if (auto v = StringField(body, "first_name", e, false, kMaxName)) u->first_name = *v;
  if (auto v = StringField(body, "last_name", e, false, kMaxName)) u->last_name = *v;
  if (auto v = BoolField(body, "active", e)) u->active = *v;
  if (auto v = BoolField(body, "banned", e)) u->banned = *v;
  if (auto v = TimeField(body, "valid_from", e)) u->valid_from = *v;
  if (auto v = TimeField(body, "valid_until", e)) u->valid_until = *v;
  if (u->valid_from && u->valid_until && *u->valid_until <= *u->valid_from) {
    e->Add("valid_until", "must be after valid_from");
  }
  static const char* kKnown[] = {"external_id", "first_name", "last_name",   "active",
                                 "banned",      "valid_from", "valid_until", "source"};
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) e->Add(it.key(), "unknown field");
  }
}

Result<store::User> UserParam(store::Store& s, const Call& c) {
  if (c.params.empty()) return Status::NotFound("no user given");
  auto u = s.FindUserByExternalId(c.params[0]);
  if (!u.ok() && u.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("no user with external id '" + c.params[0] + "'");
  }
  return u;
}

Reply FaceRefusal(const face::FaceAnalysis& a) {
  Reply r = ErrorReply(status::unprocessable_entity, face::ReasonName(a.verdict),
                       a.message.empty() ? std::string(face::ReasonName(a.verdict)) : a.message);
  r.body["faces"] = a.faces.size();
  if (a.selected >= 0 && a.selected < static_cast<int>(a.faces.size())) {
    r.body["quality"] = face::QualityJson(a.faces[a.selected].quality);
  }
  return r;
}

}  // namespace

Reply AdminApiImpl::ListUsers(Call& c) {
  FieldErrors e;
  Page page = ParsePage(c, &e);
  store::UserFilter f;
  f.after_id = page.cursor;
  f.limit = page.limit;
  f.query = c.Query("query").value_or("");
  if (auto src = c.Query("source")) {
    if (*src == "local") {
      f.source = store::RecordSource::kLocal;
    } else if (*src == "ship") {
      f.source = store::RecordSource::kShip;
    } else {
      e.Add("source", "expected local or ship");
    }
  }
  if (!e.empty()) return e.ToReply();
  auto users = store().ListUsersFiltered(f);
  if (!users.ok()) return StatusReply(users.status());
  json items = json::array();
  for (const auto& u : *users) items.push_back(UserJson(u));
  Reply r;
  r.body = PagedList(items, page.limit,
                     users->empty() ? std::nullopt : std::optional<int64_t>(users->back().id));
  return r;
}

Reply AdminApiImpl::CreateUser(Call& c) {
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  store::User u;
  FieldErrors e;
  ReadUserFields(*body, true, &u, &e);
  if (!e.empty()) return e.ToReply();
  c.target = "user:" + u.external_id;
  if (auto refused = RefuseSyncOwned("user " + u.external_id, store::RecordSource::kLocal)) {
    return *refused;
  }
  auto existing = store().FindUserByExternalId(u.external_id);
  if (existing.ok()) {
    return ErrorReply(status::conflict, "conflict",
                      "user '" + u.external_id + "' exists: PATCH it instead");
  }
  if (existing.status().code() != StatusCode::kNotFound) return StatusReply(existing.status());
  auto id = store().UpsertUser(u);
  if (!id.ok()) return StatusReply(id.status());
  auto stored = store().GetUser(*id);
  if (!stored.ok()) return StatusReply(stored.status());
  return Created(UserJson(*stored));
}

Reply AdminApiImpl::GetUser(Call& c) {
  auto u = UserParam(store(), c);
  if (!u.ok()) return StatusReply(u.status());
  json out = UserJson(*u);
  json groups = json::array();
  if (auto ids = store().ListGroupsOfUser(u->id); ids.ok()) {
    auto all = store().ListAccessGroups();
    for (int64_t gid : *ids) {
      if (!all.ok()) break;
      for (const auto& g : *all) {
        if (g.id == gid) groups.push_back(g.external_id);
      }
    }
  }
  out["groups"] = groups;
  if (auto t = store().ListTemplatesOfUser(u->id); t.ok()) out["faces"] = t->size();
  Reply r;
  r.body = out;
  return r;
}

Reply AdminApiImpl::PatchUser(Call& c) {
  auto u = UserParam(store(), c);
  if (!u.ok()) return StatusReply(u.status());
  c.target = "user:" + u->external_id;
  if (auto refused = RefuseSyncOwned("user " + u->external_id, u->source)) return *refused;
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  store::User changed = *u;
  FieldErrors e;
  ReadUserFields(*body, false, &changed, &e);
  if (!e.empty()) return e.ToReply();
  auto id = store().UpsertUser(changed);
  if (!id.ok()) return StatusReply(id.status());
  auto stored = store().GetUser(*id);
  if (!stored.ok()) return StatusReply(stored.status());
  json fields = json::array();
  for (auto it = body->begin(); it != body->end(); ++it) fields.push_back(it.key());
  c.audit_details = {{"fields", fields}};
  Reply r;
  r.body = UserJson(*stored);
  return r;
}

Reply AdminApiImpl::EraseUser(Call& c) {
  auto u = UserParam(store(), c);
  if (!u.ok()) return StatusReply(u.status());
  c.target = "user:" + u->external_id;
  if (u->source == store::RecordSource::kShip) {
    // The sync would bring the person back: erase them at the source. Their faces are
    // Facegate's own and can always be deleted (DELETE /api/v1/faces/{id}).
    return *RefuseSyncOwned("user " + u->external_id, u->source);
  }
  auto report = store().EraseUser(u->id);
  if (!report.ok()) return StatusReply(report.status());
  SyncGallery();  // the index entry goes before the answer
  c.audit_details = {{"templates_deleted", report->templates_deleted},
                     {"photos_deleted", report->photos_deleted}};
  Reply r;
  r.body = {{"erased", report->user_deleted},
            {"external_id", u->external_id},
            {"templates_deleted", report->templates_deleted},
            {"photos_deleted", report->photos_deleted},
            {"wal_truncated", report->wal_truncated}};
  return r;
}

Reply AdminApiImpl::ExportUser(Call& c) {
  auto u = UserParam(store(), c);
  if (!u.ok()) return StatusReply(u.status());
  c.target = "user:" + u->external_id;
  json out;
  out["user"] = UserJson(*u);

  auto groups = store().ListAccessGroups();
  auto doors = store().ListDoors();
  auto schedules = store().ListSchedules();
  if (!groups.ok()) return StatusReply(groups.status());
  if (!doors.ok()) return StatusReply(doors.status());
  if (!schedules.ok()) return StatusReply(schedules.status());
  auto group_ext = [&](int64_t id) -> json {
    for (const auto& g : *groups)
      if (g.id == id) return g.external_id;
    return nullptr;
  };
  std::unordered_map<int64_t, std::string> door_ids;
  for (const auto& d : *doors) door_ids.emplace(d.id, d.external_id);
  auto door_ext = [&](int64_t id) -> json {
    auto it = door_ids.find(id);
    return it == door_ids.end() ? json(nullptr) : json(it->second);
  };
  auto schedule_ext = [&](const std::optional<int64_t>& id) -> json {
    if (!id) return nullptr;
    for (const auto& s : *schedules)
      if (s.id == *id) return s.external_id;
    return nullptr;
  };
  json member_of = json::array();
  json rights = json::array();
  auto right_json = [&](const store::AccessRight& r, json via) {
    return json{{"door", door_ext(r.door_id)},
                {"schedule", schedule_ext(r.schedule_id)},
                {"via_group", std::move(via)}};
  };
  store::AccessRightFilter direct;
  direct.user_id = u->id;
  auto own = store().ListAccessRights(direct);
  if (!own.ok()) return StatusReply(own.status());
  for (const auto& r : *own) rights.push_back(right_json(r, nullptr));
  auto ids = store().ListGroupsOfUser(u->id);
  if (!ids.ok()) return StatusReply(ids.status());
  for (int64_t gid : *ids) {
    member_of.push_back(group_ext(gid));
    store::AccessRightFilter by_group;
    by_group.group_id = gid;
    auto gr = store().ListAccessRights(by_group);
    if (!gr.ok()) return StatusReply(gr.status());
    for (const auto& r : *gr) rights.push_back(right_json(r, group_ext(gid)));
  }
  out["groups"] = member_of;
  out["rights"] = rights;

  // Templates only as a count and their metadata: never the values. Kept photos likewise
  // (an operator fetches one with GET /api/v1/faces/{id}/photo).
  auto templates = store().ListTemplatesOfUser(u->id);
  if (!templates.ok()) return StatusReply(templates.status());
  json faces = json::array();
  int photos = 0;
  for (const auto& t : *templates) {
    faces.push_back({{"source", store::TemplateSourceName(t.source)},
                     {"model_version", t.model_version},
                     {"created_at", TimeJson(t.created_at)},
                     {"photo_kept", t.has_photo}});
    photos += t.has_photo ? 1 : 0;
  }
  out["templates"] = {{"count", templates->size()}, {"items", faces}};
  out["photos"] = {{"count", photos}};

  json events = json::array();
  store::EventFilter f;
  f.user_id = u->id;
  f.limit = 1000;
  for (;;) {
    auto page = store().ListEvents(f);
    if (!page.ok()) return StatusReply(page.status());
    for (const auto& e : *page) {
      json j = EventJson(e);
      j["door"] = e.event.door_id ? door_ext(*e.event.door_id) : json(nullptr);
      events.push_back(std::move(j));
    }
    if (static_cast<int>(page->size()) < f.limit) break;
    f.before_id = page->back().id;
  }
  out["events"] = events;
  out["exported_at"] = TimeJson(clock().Now());
  Reply r;
  r.body = out;
  return r;
}

Reply AdminApiImpl::ListFaces(Call& c) {
  auto u = UserParam(store(), c);
  if (!u.ok()) return StatusReply(u.status());
  auto templates = store().ListTemplatesOfUser(u->id);
  if (!templates.ok()) return StatusReply(templates.status());
  json items = json::array();
  for (const auto& t : *templates) items.push_back(TemplateJson(t));
  Reply r;
  r.body = {{"items", items}, {"next_cursor", nullptr}};
  return r;
}

Reply AdminApiImpl::EnrollFace(Call& c) {
  auto u = UserParam(store(), c);
  if (!u.ok()) return StatusReply(u.status());
  c.target = "user:" + u->external_id;
  if (c.body().empty()) {
    return ErrorReply(status::bad_request, "invalid_request",
                      "expected the photo (image/jpeg or image/png) as the request body",
                      json{{"body", "required"}});
  }
  auto analysis = Embed(c.body(), face::Priority::kEnrollment);
  if (!analysis.ok()) return StatusReply(analysis.status());
  c.audit_details["verdict"] = face::ReasonName(analysis->verdict);
  if (!analysis->accepted()) return FaceRefusal(*analysis);
  auto probe = analysis->AcceptedTemplate();
  if (!probe.ok()) return StatusReply(probe.status());
  json quality = face::QualityJson(analysis->faces[analysis->selected].quality);

  json duplicate_of = nullptr;
  if (auto other = DuplicateOf(*probe, u->id)) {
    auto other_user = store().GetUser(*other);
    std::string other_ext = other_user.ok() ? other_user->external_id : std::to_string(*other);
    c.audit_details["duplicate_of"] = other_ext;
    if (options().duplicate_enrollment == DuplicatePolicy::kRefuse) {
      Reply r = ErrorReply(status::conflict, "duplicate_face",
                           "this face is already enrolled for user " + other_ext);
      r.body["other_user"] = other_ext;
      r.body["quality"] = quality;
      return r;
    }
    duplicate_of = other_ext;
  }
  store::NewTemplate t;
  t.user_id = u->id;
  t.source = store::TemplateSource::kAdmin;
  t.model_version = std::string(face::kModelVersion);
  t.values = std::span<const float>(probe->data(), probe->size());
  t.quality_json = quality.dump();
  KeepPhoto(options(), c.body(), &t);
  auto id = store().AddTemplate(t);
  if (!id.ok()) return StatusReply(id.status());
  SyncGallery();
  c.audit_details["template_id"] = *id;
  json out;
  if (auto info = store().GetTemplateInfo(*id); info.ok()) {
    out["face"] = TemplateJson(*info);
  } else {
    out["face"] = {{"id", *id}};
  }
  out["quality"] = quality;
  out["duplicate_of"] = duplicate_of;
  out["timings_ms"] = {{"queue", analysis->timings.queue_ms},
                       {"total", analysis->timings.total_ms}};
  return Created(out);
}

Reply AdminApiImpl::GetFacePhoto(Call& c) {
  const std::string s = c.params.empty() ? std::string() : c.params[0];
  auto id = ParseInt64(s);
  if (!id)
    return ErrorReply(status::not_found, "not_found", "no face template with id '" + s + "'");
  auto info = store().GetTemplateInfo(*id);
  if (!info.ok()) return StatusReply(info.status());
  c.target = "user:" + info->user_external_id;
  c.audit_details = {{"template_id", *id}};
  auto photo = store().LoadTemplatePhoto(*id);
  if (!photo.ok()) return StatusReply(photo.status());
  Reply r;
  r.raw = std::string(photo->bytes.begin(), photo->bytes.end());
  OPENSSL_cleanse(photo->bytes.data(), photo->bytes.size());
  r.content_type = photo->media_type;
  return r;
}

// Every template with its values, for an admin moving a site to another server: streamed as
// JSON lines (one template per line, with the metadata of the face list), read from the
// store a page at a time. Admin role only, audited with the count sent.
Reply AdminApiImpl::ExportTemplates(Call& c) {
  c.target = "templates";
  Reply r;
  r.content_type = "application/x-ndjson";
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"templates.jsonl\"");
  r.stream = [this, &c](net::ChunkedWriter& out) -> Status {
    constexpr int kPage = 500;
    int64_t after = 0;
    int64_t sent = 0;
    std::string lines;
    for (;;) {
      auto page = store().ExportTemplates(after, kPage);
      if (!page.ok()) return page.status();
      for (auto& e : *page) {
        json line = TemplateJson(e.info);
        line["dimension"] = e.info.dimension;
        line["values"] = e.values;
        lines += line.dump();
        lines += '\n';
        std::fill(e.values.begin(), e.values.end(), 0.0f);
      }
      sent += static_cast<int64_t>(page->size());
      c.audit_details["templates"] = sent;
      const bool written = lines.empty() || out.Write(lines);
      OPENSSL_cleanse(lines.data(), lines.size());
      lines.clear();
      if (!written) return Status::Unavailable("the client stopped reading");
      if (static_cast<int>(page->size()) < kPage) return Status::Ok();
      after = page->back().info.id;
    }
  };
  return r;
}

Reply AdminApiImpl::DeleteFace(Call& c) {
  const std::string s = c.params.empty() ? std::string() : c.params[0];
  auto parsed = ParseInt64(s);
  if (!parsed) {
    return ErrorReply(status::not_found, "not_found", "no face template with id '" + s + "'");
  }
  const int64_t id = *parsed;
  auto info = store().GetTemplateInfo(id);
  if (!info.ok()) return StatusReply(info.status());
  c.target = "user:" + info->user_external_id;
  c.audit_details = {{"template_id", id}};
  if (Status st = store().DeleteTemplate(id); !st.ok()) return StatusReply(st);
  SyncGallery();
  Reply r;
  r.body = {{"deleted", true}, {"id", id}, {"user", info->user_external_id}};
  return r;
}

}  // namespace facegate::admin::internal
