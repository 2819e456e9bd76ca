// The admin API's request plumbing: options, tokens, authentication, roles, audit, replies,
// and the route table. The resources live in the other admin_*.cc files.
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "admin/admin_impl.h"
#include "facegate/core/time_format.h"
#include "facegate/gallery/gallery.h"

namespace facegate::admin {

void ParseAdminApiOptions(ConfigSection& s, AdminApiOptions* o) {
  s.Get("request_threads", &o->request_threads, 1, 64);
  s.Get("request_queue", &o->request_queue, 1, 100000);
  s.Get("event_retention_days", &o->event_retention_days, 0, 36500);
  s.Get("audit_retention_days", &o->audit_retention_days, 0, 36500);
  std::string dup = o->duplicate_enrollment == DuplicatePolicy::kRefuse ? "refuse" : "flag";
  s.GetEnum("duplicate_enrollment", &dup, {"refuse", "flag"});
  o->duplicate_enrollment = dup == "flag" ? DuplicatePolicy::kFlag : DuplicatePolicy::kRefuse;
  s.Get("import_max_rows", &o->import_max_rows, 1, 1000);
  s.Get("enroll_timeout_ms", &o->enroll_timeout_ms, 1000, 600000);
  s.Get("keep_photos", &o->keep_photos);
  s.Get("session_idle_minutes", &o->session_idle_minutes, 1, 24 * 60);
  s.Get("session_max_hours", &o->session_max_hours, 1, 24 * 7);
  s.Get("console_dir", &o->console_dir);
}

namespace internal {

std::string PhotoMediaType(std::string_view bytes) {
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xFF\xD8\xFF") return "image/jpeg";
  if (bytes.size() >= 8 && bytes.substr(0, 8) == "\x89PNG\r\n\x1A\n") return "image/png";
  return "application/octet-stream";
}

void KeepPhoto(const AdminApiOptions& options, std::string_view bytes, store::NewTemplate* t) {
  if (!options.keep_photos) return;
  t->photo = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  t->photo_media_type = PhotoMediaType(bytes);
}

}  // namespace internal

Result<std::string> RandomSecret() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::Internal("no randomness for a secret");
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char byte : raw) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  OPENSSL_cleanse(raw, sizeof raw);
  return out;
}

Result<std::string> GenerateAdminToken(std::string* sha256) {
  auto secret = RandomSecret();
  if (!secret.ok()) return secret.status();
  std::string token = "fgt_" + *secret;
  OPENSSL_cleanse(secret->data(), secret->size());
  *sha256 = HashAdminToken(token);
  return token;
}

std::string HashAdminToken(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

Result<std::shared_ptr<AdminApi>> AdminApi::Create(const AdminApiOptions& options,
                                                   AdminApiContext context) {
  if (!context.store || !context.clock) {
    return Status::InvalidArgument("admin API: store and clock are required");
  }
  return std::shared_ptr<AdminApi>(
      std::make_shared<internal::AdminApiImpl>(options, std::move(context)));
}

namespace internal {

// --- replies and request helpers

std::optional<std::string> Call::Query(std::string_view name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Reply ErrorReply(status http, std::string_view code, std::string_view message, json fields) {
  Reply r;
  r.http = http;
  r.body = {{"error", code}, {"message", message}};
  if (!fields.is_null()) r.body["fields"] = std::move(fields);
  return r;
}

Reply StatusReply(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound:
      return ErrorReply(status::not_found, "not_found", s.message());
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return ErrorReply(status::conflict, "conflict", s.message());
    case StatusCode::kInvalidArgument:
      return ErrorReply(status::bad_request, "invalid_request", s.message());
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded: {
      Reply r = ErrorReply(status::service_unavailable, "busy", s.message());
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    default:
      spdlog::error("admin API: {}", s.ToString());
      return ErrorReply(status::internal_server_error, "internal", s.message());
  }
}

Reply Created(json body) {
  Reply r;
  r.http = status::created;
  r.body = std::move(body);
  return r;
}

Reply FieldErrors::ToReply() const {
  std::string message = "invalid fields:";
  for (auto it = fields_.begin(); it != fields_.end(); ++it) {
    message += " " + it.key() + " (" + it.value().get<std::string>() + ")";
  }
  return ErrorReply(status::bad_request, "invalid_request", message, fields_);
}

Result<json> ParseJsonObject(const Call& call, Reply* error) {
  json j = json::parse(call.body(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = ErrorReply(
        status::bad_request, "invalid_request",
        call.body().empty() ? "expected a JSON object body" : "the body is not a JSON object");
    return Status::InvalidArgument("bad body");
  }
  return j;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::map<std::string, std::string, std::less<>> ParseQuery(std::string_view target) {
  std::map<std::string, std::string, std::less<>> out;
  auto q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
    out[key] = value;
  }
  return out;
}

}  // namespace

std::optional<int64_t> ParseInt64(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

Page ParsePage(const Call& call, FieldErrors* errors) {
  Page p;
  if (auto v = call.Query("limit")) {
    auto n = ParseInt64(*v);
    if (!n || *n < 1 || *n > 1000) {
      errors->Add("limit", "expected an integer from 1 to 1000");
    } else {
      p.limit = static_cast<int>(*n);
    }
  }
  if (auto v = call.Query("cursor"); v && !v->empty()) {
    auto n = ParseInt64(*v);
    if (!n || *n < 0) {
      errors->Add("cursor", "not a cursor from a previous page");
    } else {
      p.cursor = *n;
    }
  }
  return p;
}

json PagedList(json items, int limit, std::optional<int64_t> last_id) {
  json out = {{"items", std::move(items)}, {"next_cursor", nullptr}};
  if (last_id && static_cast<int>(out["items"].size()) >= limit) {
    out["next_cursor"] = std::to_string(*last_id);
  }
  return out;
}

std::optional<std::string> StringField(const json& o, const char* name, FieldErrors* e,
                                       bool required, size_t max_len) {
  auto it = o.find(name);
  if (it == o.end() || it->is_null()) {
    if (required) e->Add(name, "required");
    return std::nullopt;
  }
  if (!it->is_string()) {
    e->Add(name, "expected a string");
    return std::nullopt;
  }
  std::string v = it->get<std::string>();
  if (required && v.empty()) {
    e->Add(name, "required");
    return std::nullopt;
  }
  if (v.size() > max_len) {
    e->Add(name, "longer than " + std::to_string(max_len) + " bytes");
    return std::nullopt;
  }
  for (unsigned char ch : v) {
    if (ch < 0x20 || ch == 0x7f) {
      e->Add(name, "contains control characters");
      return std::nullopt;
    }
  }
  return v;
}

std::optional<bool> BoolField(const json& o, const char* name, FieldErrors* e) {
  auto it = o.find(name);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) {
    e->Add(name, "expected true or false");
    return std::nullopt;
  }
  return it->get<bool>();
}

std::optional<std::optional<Clock::WallTime>> TimeField(const json& o, const char* name,
                                                        FieldErrors* e) {
  auto it = o.find(name);
  if (it == o.end()) return std::nullopt;
  if (it->is_null()) return std::optional<Clock::WallTime>();
  if (!it->is_string()) {
    e->Add(name, "expected an RFC 3339 time or null");
    return std::nullopt;
  }
  auto t = ParseRfc3339(it->get<std::string>());
  if (!t) {
    e->Add(name, "expected an RFC 3339 time such as 2026-12-01T08:00:00Z");
    return std::nullopt;
  }
  return std::optional<Clock::WallTime>(*t);
}

std::optional<Clock::WallTime> TimeQuery(const Call& call, const char* name, FieldErrors* e) {
  auto v = call.Query(name);
  if (!v || v->empty()) return std::nullopt;
  auto t = ParseRfc3339(*v);
  if (!t) e->Add(name, "expected an RFC 3339 time such as 2026-12-01T08:00:00Z");
  return t;
}

std::unordered_map<int64_t, std::string> DoorExternalIds(store::Store& store) {
  std::unordered_map<int64_t, std::string> out;
  if (auto doors = store.ListDoors(); doors.ok()) {
    for (const auto& d : *doors) out.emplace(d.id, d.external_id);
  }
  return out;
}

json TimeJson(const std::optional<Clock::WallTime>& t) {
  if (!t) return nullptr;
  return FormatRfc3339(*t);
}

// --- the implementation object

AdminApiImpl::AdminApiImpl(const AdminApiOptions& options, AdminApiContext context)
    : options_(options),
      ctx_(std::move(context)),
      pool_(std::make_unique<WorkPool>("admin-api", options.request_threads,
                                       static_cast<size_t>(options.request_queue))) {
  if (auto* m = ctx_.metrics) {
    unauthorized_ = m->GetCounter("facegate_admin_unauthorized_total",
                                  "Admin API requests refused with 401 (no or a bad token)");
    forbidden_ = m->GetCounter("facegate_admin_forbidden_total",
                               "Admin API requests refused with 403 (role too low)");
    csrf_refused_ =
        m->GetCounter("facegate_admin_csrf_refused_total",
                      "Console session changes refused with 403 (no or a wrong X-CSRF-Token)");
    metrics_ = m;
  }
}

// The pool first: its queued tasks run (they use this object) before any member goes.
AdminApiImpl::~AdminApiImpl() { pool_.reset(); }

std::optional<Principal> AdminApiImpl::Authenticate(const net::RequestContext& ctx,
                                                    std::string* why) {
  auto header = ctx.message[net::http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  std::optional<ConsoleSession> session;
  std::string token_hash;
  if (header.empty()) {
    const std::string cookie = SessionCookieValue(ctx.message);
    if (cookie.empty()) {
      *why = "missing Authorization: Bearer <token> header";
      return std::nullopt;
    }
    session = FindSession(cookie, why);
    if (!session) return std::nullopt;
    token_hash = session->token_hash;
  } else if (header.size() <= kBearer.size() ||
             !std::equal(kBearer.begin(), kBearer.end(), header.begin(),
                         [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    *why = "the Authorization header is not a bearer token";
    return std::nullopt;
  } else {
    token_hash = HashAdminToken(
        std::string_view(header.data() + kBearer.size(), header.size() - kBearer.size()));
  }
  auto found = store().FindActiveAdminToken(token_hash);
  if (!found.ok()) {
    *why = "tokens cannot be checked now: " + found.status().message();
    return std::nullopt;
  }
  if (!*found) {
    *why = session ? "the console session's token was revoked: sign in with another"
                   : "unknown or revoked token";
    return std::nullopt;
  }
  Principal p{(*found)->id, (*found)->name, (*found)->role, std::move(session)};
  const auto now = clock().Monotonic();
  bool touch = false;
  {
    std::lock_guard lock(touch_mu_);
    auto [it, fresh] = last_touch_.try_emplace(p.token_id, now);
    if (fresh || now - it->second >= std::chrono::minutes(1)) {
      it->second = now;
      touch = true;
    }
  }
  if (touch) {
    if (Status s = store().TouchAdminToken(p.token_id, clock().Now()); !s.ok()) {
      spdlog::warn("admin token {}: last-used time not recorded: {}", p.name, s.ToString());
    }
  }
  return p;
}

void AdminApiImpl::Audit(const Call& call, const RouteSpec& spec, std::string_view outcome,
                         status http) {
  store::AuditEntry e;
  e.at = clock().Now();
  e.actor = call.who.token_id ? call.who.Actor() : "anonymous";
  if (call.who.token_id) e.actor_token_id = call.who.token_id;
  e.remote_address = call.ctx->remote_address;
  e.action = spec.action;
  e.target = call.target;
  e.outcome = std::string(outcome);
  json details = call.audit_details;
  details["status"] = static_cast<int>(http);
  details["method"] = std::string(net::http::to_string(call.ctx->message.method()));
  e.details_json = details.dump();
  if (auto id = store().AppendAudit(e); !id.ok()) {
    spdlog::error("audit row not written for {} by {}: {}", spec.action, e.actor,
                  id.status().ToString());
  }
}

void AdminApiImpl::Send(const Call& call, const RouteSpec& spec, const net::Responder& respond,
                        Reply reply) {
  net::HttpResponse res{reply.http, call.ctx->message.version()};
  res.set(net::http::field::content_type, reply.content_type);
  res.set(net::http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  for (auto& [name, value] : reply.headers) res.set(name, value);
  res.keep_alive(call.ctx->message.keep_alive());
  res.body() = reply.raw ? std::move(*reply.raw) : reply.body.dump() + "\n";
  res.prepare_payload();
  (void)spec;
  respond(std::move(res));
}

void AdminApiImpl::SendStream(Call& call, const RouteSpec& spec, const net::Responder& respond,
                              Reply reply) {
  net::HttpResponse head{reply.http, call.ctx->message.version()};
  head.set(net::http::field::content_type, reply.content_type);
  head.set(net::http::field::cache_control, "no-store");
  head.set("X-Content-Type-Options", "nosniff");
  for (auto& [name, value] : reply.headers) head.set(name, value);
  head.keep_alive(call.ctx->message.keep_alive());
  std::unique_ptr<net::ChunkedWriter> out = respond.Stream(std::move(head));
  Status result = Status::Unavailable("the client went away before the answer started");
  if (out) {
    try {
      result = reply.stream(*out);
    } catch (const std::exception& e) {  // a bug: cut the answer, keep serving
      spdlog::error("admin API {}: {}", spec.action, e.what());
      result = Status::Internal("internal error");
    }
    call.audit_details["bytes"] = out->bytes_written();
    if (result.ok()) {
      // Audited before the last chunk: every byte has been sent, and a client that saw the
      // whole answer finds its audit row when it looks next.
      if (spec.audit) Audit(call, spec, "ok", reply.http);
      if (!out->Finish()) {
        spdlog::warn(
            "admin API {} by {}: the client went away before the end of the answer "
            "(its body was sent whole)",
            spec.action, call.who.Actor());
      }
      return;
    }
    out->Abort();
  }
  spdlog::warn("admin API {} by {}: the streamed answer was cut short: {}", spec.action,
               call.who.Actor(), result.ToString());
  call.audit_details["error"] = result.message();
  Audit(call, spec, "failed", reply.http);
}

Reply AdminApiImpl::RunHandler(const RouteSpec& spec, HandlerFn fn, Call& call) {
  try {
    return (this->*fn)(call);
  } catch (const std::exception& e) {  // a bug: answer 500, keep serving
    spdlog::error("admin API {}: {}", spec.action, e.what());
    return ErrorReply(status::internal_server_error, "internal", "internal error");
  }
}

void AdminApiImpl::Dispatch(const RouteSpec& spec, HandlerFn fn,
                            std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
  Call call;
  call.ctx = std::move(ctx);
  call.query = ParseQuery(call.ctx->message.target());
  for (const auto& p : call.ctx->path_params) call.params.push_back(PercentDecode(p, false));
  if (!call.params.empty()) call.target = call.params.front();

  if (!spec.authenticated) {
    Reply reply = RunHandler(spec, fn, call);
    const bool ok = static_cast<int>(reply.http) < 400;
    Audit(call, spec, ok ? "ok" : (static_cast<int>(reply.http) < 500 ? "denied" : "failed"),
          reply.http);
    Send(call, spec, respond, std::move(reply));
    return;
  }
  std::string why;
  auto who = Authenticate(*call.ctx, &why);
  if (!who) {
    if (unauthorized_) unauthorized_->Increment();
    spdlog::warn("admin API: 401 {} {} from {}: {}", spec.action, call.ctx->message.target(),
                 call.ctx->remote_address, why);
    Audit(call, spec, "denied", status::unauthorized);
    Reply r = ErrorReply(status::unauthorized, "unauthorized", why);
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"facegate\"");
    Send(call, spec, respond, std::move(r));
    return;
  }
  call.who = *who;
  if (!CsrfOk(call)) {
    if (csrf_refused_) csrf_refused_->Increment();
    spdlog::warn("admin API: 403 {} {} from {}: console session request without its CSRF token",
                 spec.action, call.ctx->message.target(), call.ctx->remote_address);
    Audit(call, spec, "denied", status::forbidden);
    Send(call, spec, respond,
         ErrorReply(status::forbidden, "csrf",
                    "a console session's changes must carry its X-CSRF-Token header"));
    return;
  }
  if (static_cast<int>(who->role) < static_cast<int>(spec.role)) {
    if (forbidden_) forbidden_->Increment();
    Audit(call, spec, "denied", status::forbidden);
    Send(call, spec, respond,
         ErrorReply(status::forbidden, "forbidden",
                    "this needs the " + std::string(store::AdminRoleName(spec.role)) +
                        " role; token '" + who->name + "' has " +
                        std::string(store::AdminRoleName(who->role))));
    return;
  }
  Reply reply = RunHandler(spec, fn, call);
  if (reply.stream && static_cast<int>(reply.http) < 300) {
    SendStream(call, spec, respond, std::move(reply));
    return;
  }
  const bool ok = static_cast<int>(reply.http) < 400;
  if (spec.audit || !ok) {
    Audit(call, spec, ok ? "ok" : (static_cast<int>(reply.http) < 500 ? "refused" : "failed"),
          reply.http);
  }
  Send(call, spec, respond, std::move(reply));
}

void AdminApiImpl::AddRoutes(net::Router& router) {
  using V = net::http::verb;
  using R = AdminRole;
  struct Entry {
    RouteSpec spec;
    HandlerFn fn;
  };
  static const Entry kRoutes[] = {
      {{V::get, "/api/v1/system", "system.read", R::kViewer, false}, &AdminApiImpl::GetSystem},
      {{V::get, "/api/v1/tokens", "token.list", R::kAdmin, false}, &AdminApiImpl::ListTokens},
      {{V::post, "/api/v1/tokens", "token.create", R::kAdmin, true}, &AdminApiImpl::CreateToken},
      {{V::delete_, "/api/v1/tokens/{id}", "token.revoke", R::kAdmin, true},
       &AdminApiImpl::RevokeToken},
      {{V::get, "/api/v1/audit", "audit.list", R::kAdmin, false}, &AdminApiImpl::ListAudit},

      {{V::get, "/api/v1/users", "user.list", R::kViewer, false}, &AdminApiImpl::ListUsers},
      {{V::post, "/api/v1/users", "user.create", R::kOperator, true}, &AdminApiImpl::CreateUser},
      {{V::get, "/api/v1/users/{id}", "user.read", R::kViewer, false}, &AdminApiImpl::GetUser},
      {{V::patch, "/api/v1/users/{id}", "user.update", R::kOperator, true},
       &AdminApiImpl::PatchUser},
      {{V::delete_, "/api/v1/users/{id}", "user.erase", R::kOperator, true},
       &AdminApiImpl::EraseUser},
      {{V::get, "/api/v1/users/{id}/export", "user.export", R::kOperator, true},
       &AdminApiImpl::ExportUser},
      {{V::get, "/api/v1/users/{id}/faces", "face.list", R::kViewer, false},
       &AdminApiImpl::ListFaces},
      {{V::post, "/api/v1/users/{id}/faces", "face.enroll", R::kOperator, true},
       &AdminApiImpl::EnrollFace},
      {{V::delete_, "/api/v1/faces/{id}", "face.delete", R::kOperator, true},
       &AdminApiImpl::DeleteFace},
      {{V::get, "/api/v1/faces/{id}/photo", "face.photo", R::kOperator, true},
       &AdminApiImpl::GetFacePhoto},
      {{V::get, "/api/v1/export/templates", "template.export", R::kAdmin, true},
       &AdminApiImpl::ExportTemplates},

      {{V::get, "/api/v1/doors", "door.list", R::kViewer, false}, &AdminApiImpl::ListDoors},
      {{V::post, "/api/v1/doors", "door.create", R::kAdmin, true}, &AdminApiImpl::CreateDoor},
      {{V::get, "/api/v1/doors/{id}", "door.read", R::kViewer, false}, &AdminApiImpl::GetDoor},
      {{V::patch, "/api/v1/doors/{id}", "door.update", R::kAdmin, true}, &AdminApiImpl::PatchDoor},
      {{V::delete_, "/api/v1/doors/{id}", "door.delete", R::kAdmin, true},
       &AdminApiImpl::DeleteDoor},
      {{V::get, "/api/v1/groups", "group.list", R::kViewer, false}, &AdminApiImpl::ListGroups},
      {{V::post, "/api/v1/groups", "group.create", R::kAdmin, true}, &AdminApiImpl::CreateGroup},
      {{V::get, "/api/v1/groups/{id}", "group.read", R::kViewer, false}, &AdminApiImpl::GetGroup},
      {{V::patch, "/api/v1/groups/{id}", "group.update", R::kAdmin, true},
       &AdminApiImpl::PatchGroup},
      {{V::delete_, "/api/v1/groups/{id}", "group.delete", R::kAdmin, true},
       &AdminApiImpl::DeleteGroup},
      {{V::get, "/api/v1/groups/{id}/members", "group.members", R::kViewer, false},
       &AdminApiImpl::ListGroupMembers},
      {{V::put, "/api/v1/groups/{id}/members/{user}", "group.member_add", R::kAdmin, true},
       &AdminApiImpl::AddGroupMember},
      {{V::delete_, "/api/v1/groups/{id}/members/{user}", "group.member_remove", R::kAdmin, true},
       &AdminApiImpl::RemoveGroupMember},
      {{V::get, "/api/v1/schedules", "schedule.list", R::kViewer, false},
       &AdminApiImpl::ListSchedules},
      {{V::post, "/api/v1/schedules", "schedule.create", R::kAdmin, true},
       &AdminApiImpl::CreateSchedule},
      {{V::get, "/api/v1/schedules/{id}", "schedule.read", R::kViewer, false},
       &AdminApiImpl::GetSchedule},
      {{V::put, "/api/v1/schedules/{id}", "schedule.update", R::kAdmin, true},
       &AdminApiImpl::PutSchedule},
      {{V::delete_, "/api/v1/schedules/{id}", "schedule.delete", R::kAdmin, true},
       &AdminApiImpl::DeleteSchedule},
      {{V::get, "/api/v1/holidays", "holiday.list", R::kViewer, false},
       &AdminApiImpl::ListHolidays},
      {{V::post, "/api/v1/holidays", "holiday.create", R::kAdmin, true},
       &AdminApiImpl::CreateHoliday},
      {{V::delete_, "/api/v1/holidays/{calendar}/{date}", "holiday.delete", R::kAdmin, true},
       &AdminApiImpl::DeleteHoliday},
      {{V::get, "/api/v1/rights", "right.list", R::kViewer, false}, &AdminApiImpl::ListRights},
      {{V::post, "/api/v1/rights", "right.create", R::kAdmin, true}, &AdminApiImpl::CreateRight},
      {{V::delete_, "/api/v1/rights/{id}", "right.delete", R::kAdmin, true},
       &AdminApiImpl::DeleteRight},

      {{V::get, "/api/v1/devices", "device.list", R::kViewer, false}, &AdminApiImpl::ListDevices},
      {{V::post, "/api/v1/devices", "device.create", R::kOperator, true},
       &AdminApiImpl::CreateDevice},
      {{V::get, "/api/v1/devices/{id}", "device.read", R::kViewer, false},
       &AdminApiImpl::GetDevice},
      {{V::patch, "/api/v1/devices/{id}", "device.update", R::kOperator, true},
       &AdminApiImpl::PatchDevice},
      {{V::delete_, "/api/v1/devices/{id}", "device.delete", R::kOperator, true},
       &AdminApiImpl::DeleteDevice},
      {{V::post, "/api/v1/devices/{id}/code", "device.code", R::kOperator, true},
       &AdminApiImpl::NewDeviceCode},
      {{V::post, "/api/v1/devices/{id}/decommission", "device.decommission", R::kOperator, true},
       &AdminApiImpl::DecommissionDevice},
      {{V::post, "/api/v1/devices/{id}/commands", "device.command", R::kOperator, true},
       &AdminApiImpl::QueueDeviceCommand},
      {{V::get, "/api/v1/events", "event.list", R::kViewer, false}, &AdminApiImpl::ListEvents},
      {{V::get, "/api/v1/events.csv", "event.export", R::kViewer, true},
       &AdminApiImpl::ExportEventsCsv},
      {{V::get, "/api/v1/integrations", "integration.list", R::kViewer, false},
       &AdminApiImpl::ListIntegrations},
      {{V::get, "/api/v1/integrations/{id}", "integration.read", R::kViewer, false},
       &AdminApiImpl::GetIntegration},
      {{V::put, "/api/v1/integrations/{id}", "integration.update", R::kAdmin, true},
       &AdminApiImpl::PutIntegration},
      {{V::post, "/api/v1/integrations/space/sync", "integration.sync", R::kOperator, true},
       &AdminApiImpl::SyncSpace},
      {{V::post, "/api/v1/integrations/space/reset-key", "integration.reset_key", R::kAdmin, true},
       &AdminApiImpl::ResetSpaceKey},

      {{V::post, "/api/v1/import", "import.batch", R::kOperator, true}, &AdminApiImpl::ImportBatch},

      {{V::post, "/api/v1/session", "session.create", R::kViewer, true, /*authenticated=*/false},
       &AdminApiImpl::CreateSession},
      {{V::get, "/api/v1/session", "session.read", R::kViewer, false}, &AdminApiImpl::GetSession},
      {{V::delete_, "/api/v1/session", "session.delete", R::kViewer, true},
       &AdminApiImpl::DeleteSession},
  };
  AddShipRoute(router);
  AddConsoleRoutes(router);
  std::weak_ptr<AdminApiImpl> weak = weak_from_this();
  for (const Entry& e : kRoutes) {
    const Entry* entry = &e;
    router.Add(e.spec.method, e.spec.path, e.spec.action,
               [weak, entry](std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
                 auto self = weak.lock();
                 if (!self) {
                   respond(net::MakeErrorResponse(ctx->message, status::service_unavailable,
                                                  "stopping", "the server is stopping"));
                   return;
                 }
                 // Store and face work block: off the I/O thread. The destructor runs every
                 // queued task before the object goes, so a plain pointer is safe.
                 AdminApiImpl* api = self.get();
                 if (!api->pool_->Post([api, entry, ctx, respond] {
                       api->Dispatch(entry->spec, entry->fn, ctx, respond);
                     })) {
                   auto res = net::MakeErrorResponse(ctx->message, status::service_unavailable,
                                                     "busy", "the admin API is busy: retry");
                   res.set(net::http::field::retry_after, "1");
                   respond(std::move(res));
                 }
               });
  }
}

void AdminApiImpl::Tick() {
  ExpireSessions();
  const auto now = clock().Monotonic();
  if (now < next_purge_) return;
  next_purge_ = now + std::chrono::hours(1);
  const auto wall = clock().Now();
  std::optional<Clock::WallTime> events_before, audit_before;
  if (options_.event_retention_days > 0) {
    events_before = wall - std::chrono::hours(24) * options_.event_retention_days;
  }
  if (options_.audit_retention_days > 0) {
    audit_before = wall - std::chrono::hours(24) * options_.audit_retention_days;
  }
  if (!events_before && !audit_before) return;
  auto purged = store().PurgeExpired(events_before, audit_before);
  if (!purged.ok()) {
    spdlog::error("retention purge failed (retried in an hour): {}", purged.status().ToString());
    next_purge_ = now + std::chrono::minutes(5);
    return;
  }
  if (purged->events > 0 || purged->audit_rows > 0) {
    spdlog::info(
        "retention purge: {} events older than {} days and {} audit rows older than {} "
        "days deleted",
        purged->events, options_.event_retention_days, purged->audit_rows,
        options_.audit_retention_days);
  }
}

std::optional<Reply> AdminApiImpl::RefuseSyncOwned(std::string_view what,
                                                   store::RecordSource source) {
  if (source == store::RecordSource::kShip) {
    return ErrorReply(
        status::conflict, "read_only",
        std::string(what) + " comes from Salto Space (SHIP sync): change it in Salto Space");
  }
  auto space = store().GetIntegration("space");
  if (space.ok() && *space && (*space)->enabled) {
    return ErrorReply(status::conflict, "read_only",
                      "the Salto Space sync is on: " + std::string(what) +
                          " is managed in Salto Space while it is (faces and devices stay "
                          "Facegate's own)");
  }
  return std::nullopt;
}

void AdminApiImpl::SyncGallery() {
  if (!ctx_.gallery) return;
  if (Status s = ctx_.gallery->Sync(); !s.ok()) {
    spdlog::error("gallery sync after an admin change failed (the background sync retries): {}",
                  s.ToString());
  }
}

Result<face::FaceAnalysis> AdminApiImpl::Embed(std::string image, face::Priority priority) {
  if (!ctx_.engine) return Status::Unavailable("face work is disabled (face.enabled is false)");
  face::AnalyzeRequest r;
  r.image = std::move(image);
  r.priority = priority;
  r.start_deadline = clock().Monotonic() + std::chrono::milliseconds(options_.enroll_timeout_ms);
  return ctx_.engine->Analyze(std::move(r));
}

std::optional<int64_t> AdminApiImpl::DuplicateOf(const face::FaceTemplate& probe, int64_t user_id) {
  if (!ctx_.gallery) return std::nullopt;
  face::MatchPolicy policy = face::PolicyFor(ctx_.matching.security_level, 0);
  auto decision = ctx_.gallery->Identify(probe, policy);
  if (!decision.ok()) return std::nullopt;
  auto within = [&](int64_t id, double d) {
    return id >= 0 && id != user_id && face::IsSamePerson(d, policy);
  };
  if (within(decision->person_id, decision->distance)) return decision->person_id;
  if (within(decision->runner_up_id, decision->runner_up_distance)) return decision->runner_up_id;
  return std::nullopt;
}

}  // namespace internal
}  // namespace facegate::admin
