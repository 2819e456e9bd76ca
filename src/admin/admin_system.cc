// The system summary, admin tokens and the audit log.
#include "admin/admin_impl.h"
#include "facegate/core/version.h"
#include "facegate/face/matching.h"
#include "facegate/gallery/gallery.h"

namespace facegate::admin::internal {

namespace {

json TokenJson(const store::AdminToken& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"role", store::AdminRoleName(t.role)},
          {"created_by", t.created_by},
          {"created_at", TimeJson(t.created_at)},
          {"last_used_at", TimeJson(t.last_used_at)},
          {"revoked_at", TimeJson(t.revoked_at)}};
}

std::optional<int64_t> IdParam(const Call& c) {
  if (c.params.empty()) return std::nullopt;
  auto v = ParseInt64(c.params[0]);
  if (!v || *v <= 0) return std::nullopt;
  return v;
}

}  // namespace

Reply AdminApiImpl::GetSystem(Call&) {
  Reply r;
  const auto uptime =
      std::chrono::duration<double>(clock().Monotonic() - context().system.started_at).count();
  json counts = json::object();
  if (auto n = store().CountUsers(); n.ok()) counts["users"] = *n;
  if (auto n = store().CountTemplates(); n.ok()) counts["templates"] = *n;
  if (auto n = store().CountPhotos(); n.ok()) counts["photos"] = *n;
  if (auto n = store().CountEvents(); n.ok()) counts["events"] = *n;
  if (auto n = store().ListDoors(); n.ok()) counts["doors"] = n->size();
  int64_t devices = 0, online = 0;
  for (int64_t after = 0;;) {
    auto page = store().ListDevices(after, 1000);
    if (!page.ok() || page->empty()) break;
    for (const auto& d : *page) {
      ++devices;
      if (d.online) ++online;
    }
    after = page->back().id;
  }
  counts["devices"] = devices;
  counts["devices_online"] = online;
  json model = {
      {"version", face::kModelVersion},
      {"face_work", context().engine != nullptr},
      {"security_level", face::SecurityLevelName(context().matching.security_level)},
      {"threshold", face::OperatingPointFor(context().matching.security_level).threshold}};
  json index = nullptr;
  if (context().gallery) {
    gallery::GalleryStats st = context().gallery->Stats();
    index = {{"templates", st.templates},
             {"identities", st.identities},
             {"storage", st.storage},
             {"simd", st.simd},
             {"load_seconds", st.load_seconds},
             {"stranger_match_probability", st.stranger_risk.probability}};
  }
  r.body = {{"version", Version()}, {"uptime_s", uptime}, {"time", TimeJson(clock().Now())},
            {"counts", counts},     {"model", model},     {"index", index}};
  return r;
}

Reply AdminApiImpl::ListTokens(Call& c) {
  const bool revoked = c.Query("include_revoked").value_or("") == "true";
  auto tokens = store().ListAdminTokens(revoked);
  if (!tokens.ok()) return StatusReply(tokens.status());
  json items = json::array();
  for (const auto& t : *tokens) items.push_back(TokenJson(t));
  Reply r;
  r.body = {{"items", items}, {"next_cursor", nullptr}};
  return r;
}

Reply AdminApiImpl::CreateToken(Call& c) {
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  FieldErrors e;
  auto name = StringField(*body, "name", &e, true, 64);
  auto role_name = StringField(*body, "role", &e);
  std::optional<AdminRole> role = AdminRole::kViewer;
  if (role_name) {
    role = store::ParseAdminRole(*role_name);
    if (!role) e.Add("role", "expected admin, operator or viewer");
  }
  if (!e.empty()) return e.ToReply();
  c.target = "token:" + *name;
  std::string sha256;
  auto token = GenerateAdminToken(&sha256);
  if (!token.ok()) return StatusReply(token.status());
  auto id = store().CreateAdminToken(
      store::NewAdminToken{*name, std::string(store::AdminRoleName(*role)), sha256, c.who.Actor()});
  if (!id.ok()) {
    if (id.status().code() == StatusCode::kAlreadyExists) {
      return ErrorReply(status::conflict, "conflict",
                        "an active token named '" + *name +
                            "' exists: revoke it or pick "
                            "another name");
    }
    return StatusReply(id.status());
  }
  c.audit_details = {{"role", store::AdminRoleName(*role)}, {"token_id", *id}};
  auto stored = store().GetAdminToken(*id);
  json out = stored.ok() ? TokenJson(*stored) : json{{"id", *id}, {"name", *name}};
  out["token"] = *token;  // shown once: only its hash is kept
  return Created(out);
}

Reply AdminApiImpl::RevokeToken(Call& c) {
  auto id = IdParam(c);
  if (!id) return ErrorReply(status::not_found, "not_found", "no token with that id");
  auto t = store().GetAdminToken(*id);
  if (!t.ok()) return StatusReply(t.status());
  c.target = "token:" + t->name;
  if (Status s = store().RevokeAdminToken(*id, clock().Now()); !s.ok()) return StatusReply(s);
  {
    // A revoked token must fail from its very next request: nothing about it is cached
    // (Authenticate reads the store every time), only the last-touch time.
    std::lock_guard lock(touch_mu_);
    last_touch_.erase(*id);
  }
  auto after = store().GetAdminToken(*id);
  Reply r;
  r.body = after.ok() ? TokenJson(*after) : json{{"id", *id}};
  return r;
}

Reply AdminApiImpl::ListAudit(Call& c) {
  FieldErrors e;
  Page page = ParsePage(c, &e);
  store::AuditFilter f;
  f.from = TimeQuery(c, "from", &e);
  f.until = TimeQuery(c, "until", &e);
  f.actor = c.Query("actor").value_or("");
  f.action = c.Query("action").value_or("");
  if (!e.empty()) return e.ToReply();
  f.before_id = page.cursor;
  f.limit = page.limit;
  auto rows = store().ListAudit(f);
  if (!rows.ok()) return StatusReply(rows.status());
  json items = json::array();
  for (const auto& a : *rows) {
    json details = json::parse(a.details_json, nullptr, false);
    items.push_back({{"id", a.id},
                     {"at", TimeJson(a.at)},
                     {"actor", a.actor},
                     {"remote_address", a.remote_address},
                     {"action", a.action},
                     {"target", a.target},
                     {"outcome", a.outcome},
                     {"details", details.is_discarded() ? json::object() : details}});
  }
  Reply r;
  r.body = PagedList(items, page.limit,
                     rows->empty() ? std::nullopt : std::optional<int64_t>(rows->back().id));
  return r;
}

}  // namespace facegate::admin::internal
