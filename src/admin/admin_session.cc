// Console sessions: POST /api/v1/session exchanges an admin token for a session cookie, GET
// reads it back (role, expiry, the CSRF token), DELETE signs out. docs/web-console.md.
//
// Sessions live in memory only: a restart signs every browser out, and nothing secret about
// them reaches the disk. The session keeps the token's hash, not the token, and every request
// checks that hash against the store, so revoking the token ends its sessions at once.
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "admin_impl.h"

namespace facegate::admin::internal {
namespace {

// "__Host-": browsers only accept it Secure, with Path=/ and without Domain, so no sibling
// host or plain-HTTP page can plant or overwrite it.
constexpr std::string_view kCookieName = "__Host-facegate-session";
// Bounded so that a loop signing in cannot grow the table without end; the oldest go first.
constexpr size_t kMaxSessions = 1000;

bool IsSafeMethod(net::http::verb v) {
  return v == net::http::verb::get || v == net::http::verb::head || v == net::http::verb::options;
}

std::string CookieHeader(std::string_view value, bool clear) {
  std::string c(kCookieName);
  c += '=';
  c += value;
  c += "; Path=/; Secure; HttpOnly; SameSite=Strict";
  if (clear) c += "; Max-Age=0";
  return c;
}

}  // namespace

std::string SessionCookieValue(const net::HttpRequest& request) {
  // Cookie: a=1; b=2 (RFC 6265 5.4). Several Cookie fields are joined the same way.
  for (const auto& field : request) {
    if (field.name() != net::http::field::cookie) continue;
    std::string_view rest(field.value().data(), field.value().size());
    while (!rest.empty()) {
      size_t end = rest.find(';');
      std::string_view pair = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      if (pair.size() > kCookieName.size() && pair.substr(0, kCookieName.size()) == kCookieName &&
          pair[kCookieName.size()] == '=') {
        return std::string(pair.substr(kCookieName.size() + 1));
      }
    }
  }
  return {};
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool AdminApiImpl::SessionExpired(const ConsoleSession& s, Clock::MonoTime now) const {
  return now - s.last_used >= std::chrono::minutes(options_.session_idle_minutes) ||
         now - s.created >= std::chrono::hours(options_.session_max_hours);
}

std::optional<ConsoleSession> AdminApiImpl::FindSession(std::string_view cookie, std::string* why) {
  const std::string key = HashAdminToken(cookie);
  const auto now = clock().Monotonic();
  std::lock_guard lock(sessions_mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    *why = "unknown or ended console session: sign in again";
    return std::nullopt;
  }
  ConsoleSession& s = it->second;
  if (SessionExpired(s, now)) {
    sessions_.erase(it);
    *why = "the console session expired: sign in again";
    return std::nullopt;
  }
  s.last_used = now;
  return s;
}

void AdminApiImpl::ExpireSessions() {
  const auto now = clock().Monotonic();
  std::lock_guard lock(sessions_mu_);
  std::erase_if(sessions_, [&](const auto& kv) { return SessionExpired(kv.second, now); });
}

json AdminApiImpl::SessionJson(const Principal& who, const ConsoleSession& s) const {
  const auto now_mono = clock().Monotonic();
  const auto now = clock().Now();
  const auto absolute_end = s.created + std::chrono::hours(options_.session_max_hours);
  const auto idle_end = s.last_used + std::chrono::minutes(options_.session_idle_minutes);
  const auto left = std::min(absolute_end, idle_end) - now_mono;
  return {{"name", who.name},
          {"role", store::AdminRoleName(who.role)},
          {"csrf_token", s.csrf},
          {"idle_timeout_s", options_.session_idle_minutes * 60},
          {"expires_at",
           FormatRfc3339(now + std::chrono::duration_cast<Clock::WallTime::duration>(left))}};
}

bool AdminApiImpl::CsrfOk(const Call& call) const {
  if (!call.who.session) return true;  // a bearer token is no ambient credential
  if (IsSafeMethod(call.ctx->message.method())) return true;
  auto header = call.ctx->message["X-CSRF-Token"];
  return ConstantTimeEqual(std::string_view(header.data(), header.size()), call.who.session->csrf);
}

Reply AdminApiImpl::CreateSession(Call& c) {
  Reply error;
  auto body = ParseJsonObject(c, &error);
  if (!body.ok()) return error;
  FieldErrors errors;
  auto token = StringField(*body, "token", &errors, /*required=*/true, 512);
  if (!errors.empty()) return errors.ToReply();
  const std::string token_hash = HashAdminToken(*token);
  auto found = store().FindActiveAdminToken(token_hash);
  if (!found.ok()) return StatusReply(found.status());
  if (!*found) {
    if (unauthorized_) unauthorized_->Increment();
    spdlog::warn("admin API: console sign-in refused from {}: unknown or revoked token",
                 c.ctx->remote_address);
    return ErrorReply(status::unauthorized, "unauthorized", "unknown or revoked token");
  }
  c.who = Principal{(*found)->id, (*found)->name, (*found)->role, std::nullopt};
  c.target = "token:" + (*found)->name;

  auto id = RandomSecret();
  auto csrf = RandomSecret();
  if (!id.ok()) return StatusReply(id.status());
  if (!csrf.ok()) return StatusReply(csrf.status());
  ConsoleSession s;
  s.token_hash = token_hash;
  s.csrf = *csrf;
  s.created = s.last_used = clock().Monotonic();
  {
    std::lock_guard lock(sessions_mu_);
    if (sessions_.size() >= kMaxSessions) {
      auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
        return a.second.last_used < b.second.last_used;
      });
      sessions_.erase(oldest);
    }
    sessions_[HashAdminToken(*id)] = s;
  }
  c.who.session = s;
  Reply r = Created(SessionJson(c.who, s));
  r.headers.emplace_back("Set-Cookie", CookieHeader(*id, false));
  return r;
}

Reply AdminApiImpl::GetSession(Call& c) {
  if (!c.who.session) {
    return ErrorReply(status::not_found, "no_session",
                      "this request was authenticated by a bearer token, not a console session");
  }
  Reply r;
  r.body = SessionJson(c.who, *c.who.session);
  return r;
}

Reply AdminApiImpl::DeleteSession(Call& c) {
  const std::string id = SessionCookieValue(c.ctx->message);
  if (!id.empty()) {
    std::lock_guard lock(sessions_mu_);
    sessions_.erase(HashAdminToken(id));
  }
  Reply r;
  r.http = status::no_content;
  r.raw = std::string();
  r.headers.emplace_back("Set-Cookie", CookieHeader("", true));
  return r;
}

}  // namespace facegate::admin::internal
