// The admin API's implementation, private to src/admin: the request plumbing (authentication,
// roles, audit, JSON replies, paging) in admin_api.cc, the resources in one file per group:
// admin_system.cc (system, tokens, audit), admin_users.cc (users, faces, export, erasure),
// admin_site.cc (doors, groups, schedules, holidays, rights), admin_devices.cc (devices,
// events, integrations), admin_import.cc (bulk import batches).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "facegate/admin/admin_api.h"
#include "facegate/core/work_pool.h"
#include "facegate/face/face_engine.h"
#include "facegate/store/store.h"

namespace facegate::admin::internal {

// Longest external id and display name the admin API accepts (users, doors, groups, ...).
inline constexpr size_t kMaxExternalId = 128;
inline constexpr size_t kMaxName = 256;

using json = nlohmann::json;
using net::http::status;
using store::AdminRole;

// A web console session (admin_session.cc): what the session cookie stands for.
struct ConsoleSession {
  std::string token_hash;  // the admin token's SHA-256, checked against the store each request
  std::string csrf;        // the X-CSRF-Token every unsafe request must carry
  Clock::MonoTime created{};
  Clock::MonoTime last_used{};
};

// Who is calling: the token that authenticated the request, directly (a bearer token) or
// through a console session.
struct Principal {
  int64_t token_id = 0;
  std::string name;
  AdminRole role = AdminRole::kViewer;
  std::optional<ConsoleSession> session;
  std::string Actor() const { return "token:" + name; }
};

// The console session cookie's value in `request`, or "".
std::string SessionCookieValue(const net::HttpRequest& request);
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// What a handler answers. A JSON body by default; `raw` with `content_type` for CSV.
struct Reply {
  status http = status::ok;
  json body = json::object();
  std::optional<std::string> raw;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // A streamed body (large exports), instead of body/raw: run on the pool thread once the
  // head (status 200, content_type, headers) went out with chunked encoding; it writes the
  // body in pieces and returns how it ended. An error (or a client gone) after the head cuts
  // the connection, so the client sees a truncated body, and is audited as failed.
  std::function<Status(net::ChunkedWriter& out)> stream;
};

// One request on its way through a handler (on the API's pool).
struct Call {
  std::shared_ptr<net::RequestContext> ctx;
  Principal who;
  std::map<std::string, std::string, std::less<>> query;  // decoded query parameters
  std::vector<std::string> params;                        // decoded path parameters
  // For the audit row: what the request was about ("user:E1001"), and details worth keeping
  // (never personal data beyond the ids, never template values).
  std::string target;
  json audit_details = json::object();

  const std::string& body() const { return ctx->message.body(); }
  std::optional<std::string> Query(std::string_view name) const;
};

// The media type of a photo that decoded (image/jpeg, image/png), from its first bytes.
std::string PhotoMediaType(std::string_view bytes);
// With admin.keep_photos, `bytes` (alive until the template is written) become t's photo.
void KeepPhoto(const AdminApiOptions& options, std::string_view bytes, store::NewTemplate* t);

// Error replies: {"error": code, "message": message[, "fields": {...}]}.
Reply ErrorReply(status http, std::string_view code, std::string_view message,
                 json fields = nullptr);
// NotFound 404, AlreadyExists/FailedPrecondition 409 conflict, InvalidArgument 400,
// ResourceExhausted/Unavailable 503 busy, the rest 500.
Reply StatusReply(const Status& s);
Reply Created(json body);

// A validation error collector: every bad field named at once.
class FieldErrors {
 public:
  void Add(std::string field, std::string problem) { fields_[field] = std::move(problem); }
  bool empty() const { return fields_.empty(); }
  Reply ToReply() const;

 private:
  json fields_ = json::object();
};

// The request body as a JSON object, or the 400 to answer.
Result<json> ParseJsonObject(const Call& call, Reply* error);

// Paging: ?limit (1..1000, default 100) and ?cursor (a decimal id); errors in `errors`.
struct Page {
  int limit = 100;
  int64_t cursor = 0;
};
Page ParsePage(const Call& call, FieldErrors* errors);
// {"items": items, "next_cursor": "id" or null}: next_cursor when the page is full.
json PagedList(json items, int limit, std::optional<int64_t> last_id);

// Optional typed fields of a JSON object, recording errors by field name.
std::optional<std::string> StringField(const json& o, const char* name, FieldErrors* e,
                                       bool required = false, size_t max_len = 256);
std::optional<bool> BoolField(const json& o, const char* name, FieldErrors* e);
// RFC 3339; JSON null gives a present-but-cleared value (nullopt inside).
std::optional<std::optional<Clock::WallTime>> TimeField(const json& o, const char* name,
                                                        FieldErrors* e);
std::optional<Clock::WallTime> TimeQuery(const Call& call, const char* name, FieldErrors* e);

json TimeJson(const std::optional<Clock::WallTime>& t);
// A whole decimal integer (ids in paths and cursors), or none.
std::optional<int64_t> ParseInt64(std::string_view s);
// %XX escapes; '+' is a space in query strings only.
std::string PercentDecode(std::string_view s, bool plus_is_space);

// The built web console, read into memory (admin_console.cc).
struct ConsoleFile {
  std::string body;
  std::string content_type;
  std::string etag;
};
class ConsoleFiles {
 public:
  // index.html and every plainly named file in assets/; an error when index.html is missing.
  static Result<ConsoleFiles> Load(const std::filesystem::path& dir);
  // "index.html", "assets/index-3f2a.js"; null when there is none.
  const ConsoleFile* Find(std::string_view name) const;
  size_t size() const { return files_.size(); }

 private:
  std::map<std::string, ConsoleFile, std::less<>> files_;
};
// Content-Security-Policy and the other headers every console page carries.
void SetConsoleSecurityHeaders(net::HttpResponse& res);

// A route's contract: its name (metrics, audit action), the least role, whether it is audited
// when it succeeds (changes are; reads of personal data such as exports too).
struct RouteSpec {
  net::http::verb method;
  const char* path;
  const char* action;
  AdminRole role;
  bool audit;
  // False for the one route that authenticates by its body (console sign-in).
  bool authenticated = true;
};

class AdminApiImpl;
using HandlerFn = Reply (AdminApiImpl::*)(Call&);

class AdminApiImpl final : public AdminApi, public std::enable_shared_from_this<AdminApiImpl> {
 public:
  AdminApiImpl(const AdminApiOptions& options, AdminApiContext context);
  ~AdminApiImpl() override;

  void AddRoutes(net::Router& router) override;
  void Tick() override;

  // --- admin_system.cc
  Reply GetSystem(Call& c);
  Reply ListTokens(Call& c);
  Reply CreateToken(Call& c);
  Reply RevokeToken(Call& c);
  Reply ListAudit(Call& c);

  // --- admin_users.cc
  Reply ListUsers(Call& c);
  Reply CreateUser(Call& c);
  Reply GetUser(Call& c);
  Reply PatchUser(Call& c);
  Reply EraseUser(Call& c);
  Reply ExportUser(Call& c);
  Reply ListFaces(Call& c);
  Reply EnrollFace(Call& c);
  Reply DeleteFace(Call& c);

  // --- admin_site.cc
  Reply ListDoors(Call& c);
  Reply CreateDoor(Call& c);
  Reply GetDoor(Call& c);
  Reply PatchDoor(Call& c);
  Reply DeleteDoor(Call& c);
  Reply ListGroups(Call& c);
  Reply CreateGroup(Call& c);
  Reply GetGroup(Call& c);
  Reply PatchGroup(Call& c);
  Reply DeleteGroup(Call& c);
  Reply ListGroupMembers(Call& c);
  Reply AddGroupMember(Call& c);
  Reply RemoveGroupMember(Call& c);
  Reply ListSchedules(Call& c);
  Reply CreateSchedule(Call& c);
  Reply GetSchedule(Call& c);
  Reply PutSchedule(Call& c);
  Reply DeleteSchedule(Call& c);
  Reply ListHolidays(Call& c);
  Reply CreateHoliday(Call& c);
  Reply DeleteHoliday(Call& c);
  Reply ListRights(Call& c);
  Reply CreateRight(Call& c);
  Reply DeleteRight(Call& c);

  // --- admin_devices.cc
  Reply ListDevices(Call& c);
  Reply CreateDevice(Call& c);
  Reply GetDevice(Call& c);
  Reply PatchDevice(Call& c);
  Reply DeleteDevice(Call& c);
  Reply NewDeviceCode(Call& c);
  Reply DecommissionDevice(Call& c);
  Reply QueueDeviceCommand(Call& c);
  Reply ListEvents(Call& c);
  Reply ExportEventsCsv(Call& c);
  Reply GetFacePhoto(Call& c);
  Reply ExportTemplates(Call& c);
  Reply ListIntegrations(Call& c);
  Reply GetIntegration(Call& c);
  Reply PutIntegration(Call& c);
  Reply SyncSpace(Call& c);
  // POST /api/v1/ship: Space's calls, authenticated by the SHIP key (admin_ship.cc).
  net::HttpResponse InboundShip(const net::RequestContext& ctx);
  void AddShipRoute(net::Router& router);
  // GET / and /assets/{name}: the web console, when admin.console_dir holds it.
  void AddConsoleRoutes(net::Router& router);
  Reply ResetSpaceKey(Call& c);

  // --- admin_import.cc
  Reply ImportBatch(Call& c);

  // --- admin_session.cc
  Reply CreateSession(Call& c);
  Reply GetSession(Call& c);
  Reply DeleteSession(Call& c);

  // --- shared by the resource files
  store::Store& store() { return *ctx_.store; }
  const Clock& clock() const { return *ctx_.clock; }
  const AdminApiOptions& options() const { return options_; }
  const AdminApiContext& context() const { return ctx_; }
  // The integration's run-time details (AdminApiContext::integration_details), or "".
  std::string Details(std::string_view integration) const {
    return ctx_.integration_details ? ctx_.integration_details(integration) : "";
  }
  // Records owned by the access-control system's sync (users, doors, groups, schedules,
  // holidays, rights) are read-only while the "space" integration is enabled, and a record
  // that came from it always: the 409 read_only reply, or none when the change may go on.
  std::optional<Reply> RefuseSyncOwned(std::string_view what, store::RecordSource source);
  uint16_t DevicePort() const {
    return ctx_.system.device_listener_port ? ctx_.system.device_listener_port() : 0;
  }
  // Makes the gallery see committed template changes before the answer goes out.
  void SyncGallery();
  // Embeds one photo at `priority`, waiting for the result (pool threads only).
  Result<face::FaceAnalysis> Embed(std::string image, face::Priority priority);
  // The best other user whose templates match `probe` within the threshold, if any.
  std::optional<int64_t> DuplicateOf(const face::FaceTemplate& probe, int64_t user_id);

 private:
  void Dispatch(const RouteSpec& spec, HandlerFn fn, std::shared_ptr<net::RequestContext> ctx,
                net::Responder respond);
  // The handler's reply; an exception (a bug) is logged and answered 500.
  Reply RunHandler(const RouteSpec& spec, HandlerFn fn, Call& call);
  std::optional<Principal> Authenticate(const net::RequestContext& ctx, std::string* why);
  void Audit(const Call& call, const RouteSpec& spec, std::string_view outcome, status http);
  void SendStream(Call& call, const RouteSpec& spec, const net::Responder& respond, Reply reply);
  void Send(const Call& call, const RouteSpec& spec, const net::Responder& respond, Reply reply);
  // The live session a cookie value names (its idle time restarted), or none and why.
  std::optional<ConsoleSession> FindSession(std::string_view cookie, std::string* why);
  bool SessionExpired(const ConsoleSession& s, Clock::MonoTime now) const;
  void ExpireSessions();
  json SessionJson(const Principal& who, const ConsoleSession& s) const;
  // Unsafe methods on a console session carry its CSRF token (bearer calls need none).
  bool CsrfOk(const Call& call) const;

  const AdminApiOptions options_;
  AdminApiContext ctx_;
  std::unique_ptr<WorkPool> pool_;
  // last_used_at is written at most once a minute per token (a write per request would
  // serialise every read behind the store's writer).
  std::mutex touch_mu_;
  std::unordered_map<int64_t, Clock::MonoTime> last_touch_;  // GUARDED_BY(touch_mu_)
  Clock::MonoTime next_purge_{};
  // Import batches check for duplicates and write one at a time (embedding stays parallel).
  std::mutex import_mu_;
  std::mutex sessions_mu_;
  // Keyed by the SHA-256 of the cookie value: the table holds no usable cookie.
  std::unordered_map<std::string, ConsoleSession> sessions_;  // GUARDED_BY(sessions_mu_)
  Counter* unauthorized_ = nullptr;
  Counter* csrf_refused_ = nullptr;
  Counter* forbidden_ = nullptr;
  MetricsRegistry* metrics_ = nullptr;
};

// Door id -> external id, read once per request (lists and exports name doors by external id;
// empty when the doors cannot be read).
std::unordered_map<int64_t, std::string> DoorExternalIds(store::Store& store);

// JSON forms shared between resources.
json UserJson(const store::User& u);
json TemplateJson(const store::TemplateInfo& t);
json EventJson(const store::StoredEvent& e);
json DeviceJson(const store::Device& d);

}  // namespace facegate::admin::internal
