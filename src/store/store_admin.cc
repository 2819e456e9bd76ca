// Administration in StoreImpl: admin tokens (beyond creation), the audit log, the listings
// and deletions the admin API needs, bulk import batches, integrations' settings and status,
// retention purges and the filtered event listing.
//
// These are StoreImpl members defined apart from store_impl.cc; they use the same mutex
// (mu_), connection and Transaction/Stmt helpers. Helpers private to this file take the
// Connection explicitly so that store_impl.h needs no private declarations for them.
//
// Listings page by id cursor (never by OFFSET), so a page costs the same however deep it is
// and rows written meanwhile neither repeat nor go missing. Their WHERE clauses are built
// from the filter's set fields; every value is bound, never spliced into the SQL.
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "store/rows.h"
#include "store/sqlite.h"
#include "store/store_impl.h"

namespace facegate::store::internal {
namespace {

constexpr int kMaxPageSize = 1000;
constexpr size_t kTokenHashBytes = 32;

int ClampLimit(int limit) { return std::clamp(limit, 1, kMaxPageSize); }

// Runs a SELECT and calls `read(stmt)` for every row; stops at the first error `read` returns.
template <typename ReadRow>
Status ForEachRow(Stmt& stmt, ReadRow read) {
  for (;;) {
    Result<bool> row = stmt.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    FACEGATE_RETURN_IF_ERROR(read(stmt));
  }
}

// The AND-ed conditions of a listing and the values they bind, in order.
class Conditions {
 public:
  // Each '?' of `clause` is bound to `value`.
  void Add(std::string_view clause, int64_t value) { Push(clause, value); }
  void Add(std::string_view clause, std::string value) { Push(clause, std::move(value)); }

  // " WHERE a AND b" (or "" when there is no condition).
  std::string Sql() const {
    std::string sql;
    for (const std::string& c : clauses_) sql += (sql.empty() ? " WHERE " : " AND ") + c;
    return sql;
  }
  // Binds the values from parameter 1 on; returns the next free parameter number.
  int Bind(Stmt& s) const {
    int i = 1;
    for (const auto& v : values_) {
      if (const int64_t* n = std::get_if<int64_t>(&v)) {
        s.Bind(i++, *n);
      } else {
        s.Bind(i++, std::string_view(std::get<std::string>(v)));
      }
    }
    return i;
  }

 private:
  void Push(std::string_view clause, const std::variant<int64_t, std::string>& value) {
    clauses_.emplace_back(clause);
    values_.insert(values_.end(), std::count(clause.begin(), clause.end(), '?'), value);
  }
  std::vector<std::string> clauses_;
  std::vector<std::variant<int64_t, std::string>> values_;
};

// A LIKE pattern matching `text` anywhere, with LIKE's wildcards (and the escape character)
// in `text` taken literally: use with ESCAPE '\'.
std::string ContainsPattern(std::string_view text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += '%';
  return pattern;
}

Result<bool> IsJsonObject(Connection& db, std::string_view json) {
  // json_type() fails on malformed JSON; CASE evaluates it only for valid text.
  Result<Stmt> s =
      db.Prepare("SELECT CASE WHEN json_valid(?1) THEN json_type(?1) = 'object' ELSE 0 END");
  if (!s.ok()) return s.status();
  s->Bind(1, json);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  return *row && s->Int(0) == 1;
}

// ---------------------------------------------------------------- rows

constexpr std::string_view kAdminTokenColumns =
    "token_id, name, role, created_by, created_at_ms, last_used_at_ms, revoked_at_ms";

Result<AdminToken> ReadAdminToken(const Stmt& s) {
  AdminToken t;
  t.id = s.Int(0);
  t.name = s.Text(1);
  std::optional<AdminRole> role = ParseAdminRole(s.Text(2));
  if (!role) {
    return Status::Corruption("admin token " + std::to_string(t.id) + " has an unknown role '" +
                              std::string(s.Text(2)) + "'");
  }
  t.role = *role;
  t.created_by = s.Text(3);
  t.created_at = FromMs(s.Int(4));
  t.last_used_at = FromMs(s.OptionalInt(5));
  t.revoked_at = FromMs(s.OptionalInt(6));
  return t;
}

constexpr std::string_view kAuditColumns =
    "audit_id, at_ms, actor, actor_token_id, remote_address, action, target, outcome, "
    "details_json";

AuditEntry ReadAuditEntry(const Stmt& s) {
  AuditEntry e;
  e.id = s.Int(0);
  e.at = FromMs(s.Int(1));
  e.actor = s.Text(2);
  e.actor_token_id = s.OptionalInt(3);
  e.remote_address = s.Text(4);
  e.action = s.Text(5);
  e.target = s.Text(6);
  e.outcome = s.Text(7);
  e.details_json = s.Text(8);
  return e;
}

constexpr std::string_view kDoorColumns = "door_id, external_id, name, settings_json, source";

Door ReadDoor(const Stmt& s) {
  Door d;
  d.id = s.Int(0);
  d.external_id = s.Text(1);
  d.name = s.Text(2);
  d.settings_json = s.Text(3);
  d.source = ParseRecordSource(s.Text(4));
  return d;
}

constexpr std::string_view kIntegrationColumns =
    "name, enabled, settings_json, status, last_error, last_error_at_ms, status_changed_at_ms, "
    "updated_at_ms";

Result<Integration> ReadIntegration(const Stmt& s) {
  Integration i;
  i.name = s.Text(0);
  i.enabled = s.Int(1) != 0;
  i.settings_json = s.Text(2);
  std::optional<IntegrationStatus> status = ParseIntegrationStatus(s.Text(3));
  if (!status) {
    return Status::Corruption("integration '" + i.name + "' has an unknown status '" +
                              std::string(s.Text(3)) + "'");
  }
  i.status = *status;
  i.last_error = s.Text(4);
  i.last_error_at = FromMs(s.OptionalInt(5));
  i.status_changed_at = FromMs(s.OptionalInt(6));
  i.updated_at = FromMs(s.Int(7));
  return i;
}

Status ValidateIntegrationName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("integration: name is empty");
  return Status::Ok();
}

Status NoAdminToken(int64_t token_id) {
  return Status::NotFound("no admin token with id " + std::to_string(token_id));
}

}  // namespace

// ---------------------------------------------------------------- admin tokens

Result<std::optional<AdminToken>> StoreImpl::FindActiveAdminToken(std::string_view token_sha256) {
  if (token_sha256.size() != kTokenHashBytes) {
    return Status::InvalidArgument("admin token: the hash must be 32 bytes of SHA-256");
  }
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare("SELECT " + std::string(kAdminTokenColumns) +
                   " FROM admin_tokens WHERE token_hash = ? AND revoked_at_ms IS NULL");
  if (!s.ok()) return s.status();
  s->BindBlob(1, BlobOf(token_sha256));
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<AdminToken>();
  Result<AdminToken> token = ReadAdminToken(*s);
  if (!token.ok()) return token.status();
  return std::optional<AdminToken>(std::move(*token));
}

Status StoreImpl::TouchAdminToken(int64_t token_id, WallTime at) {
  std::lock_guard lock(mu_);
  // max(): touches that arrive out of order (parallel requests) never move it back.
  Result<Stmt> s = db_->Prepare(
      "UPDATE admin_tokens SET last_used_at_ms = max(coalesce(last_used_at_ms, ?1), ?1) "
      "WHERE token_id = ?2");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, ToMs(at)).Bind(2, token_id).Run());
  if (db_->Changes() == 0) return NoAdminToken(token_id);
  return Status::Ok();
}

Result<AdminToken> StoreImpl::GetAdminToken(int64_t token_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kAdminTokenColumns) +
                                " FROM admin_tokens WHERE token_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, token_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return NoAdminToken(token_id);
  return ReadAdminToken(*s);
}

Result<std::vector<AdminToken>> StoreImpl::ListAdminTokens(bool include_revoked) {
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare("SELECT " + std::string(kAdminTokenColumns) + " FROM admin_tokens" +
                   (include_revoked ? "" : " WHERE revoked_at_ms IS NULL") + " ORDER BY token_id");
  if (!s.ok()) return s.status();
  std::vector<AdminToken> out;
  FACEGATE_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& row) -> Status {
    Result<AdminToken> token = ReadAdminToken(row);
    if (!token.ok()) return token.status();
    out.push_back(std::move(*token));
    return Status::Ok();
  }));
  return out;
}

Status StoreImpl::RevokeAdminToken(int64_t token_id, WallTime at) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  {
    Result<Stmt> s = db_->Prepare("SELECT revoked_at_ms FROM admin_tokens WHERE token_id = ?");
    if (!s.ok()) return s.status();
    s->Bind(1, token_id);
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NoAdminToken(token_id);
    if (!s->IsNull(0)) return Status::FailedPrecondition("token already revoked");
  }
  Result<Stmt> s = db_->Prepare("UPDATE admin_tokens SET revoked_at_ms = ? WHERE token_id = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, ToMs(at)).Bind(2, token_id).Run());
  return txn->Commit();
}

// ---------------------------------------------------------------- audit log

Result<int64_t> StoreImpl::AppendAudit(const AuditEntry& e) {
  if (e.actor.empty()) return Status::InvalidArgument("audit: actor is empty");
  if (e.action.empty()) return Status::InvalidArgument("audit: action is empty");
  if (e.outcome.empty()) return Status::InvalidArgument("audit: outcome is empty");
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO audit_log (at_ms, actor, actor_token_id, remote_address, action, target, "
      "outcome, details_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  // An entry without a time is stamped now (the store's clock).
  const int64_t at_ms = e.at == WallTime{} ? NowMs() : ToMs(e.at);
  Status st = s->Bind(1, at_ms)
                  .Bind(2, e.actor)
                  .Bind(3, e.actor_token_id)
                  .Bind(4, e.remote_address)
                  .Bind(5, e.action)
                  .Bind(6, e.target)
                  .Bind(7, e.outcome)
                  .Bind(8, e.details_json)
                  .Run();
  if (st.code() == StatusCode::kInvalidArgument) {
    return Status::InvalidArgument("audit: " + st.message() + " (is details_json valid JSON?)");
  }
  FACEGATE_RETURN_IF_ERROR(st);
  return db_->LastInsertRowId();
}

Result<std::vector<AuditEntry>> StoreImpl::ListAudit(const AuditFilter& f) {
  Conditions where;
  if (f.before_id > 0) where.Add("audit_id < ?", f.before_id);
  if (f.from) where.Add("at_ms >= ?", ToMs(*f.from));
  if (f.until) where.Add("at_ms < ?", ToMs(*f.until));
  if (!f.actor.empty()) where.Add("actor = ?", f.actor);
  if (!f.action.empty()) {
    if (f.action.back() == '.') {
      // A prefix: "user." <= action < "user/" ('/' follows '.'), which is exactly the actions
      // that start with "user.", without LIKE's wildcards.
      std::string upper = f.action;
      upper.back() = '/';
      where.Add("action >= ?", f.action);
      where.Add("action < ?", std::move(upper));
    } else {
      where.Add("action = ?", f.action);
    }
  }
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kAuditColumns) + " FROM audit_log" +
                                where.Sql() + " ORDER BY audit_id DESC LIMIT ?");
  if (!s.ok()) return s.status();
  s->Bind(where.Bind(*s), ClampLimit(f.limit));
  std::vector<AuditEntry> out;
  FACEGATE_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& row) {
    out.push_back(ReadAuditEntry(row));
    return Status::Ok();
  }));
  return out;
}

// ---------------------------------------------------------------- users, doors, templates

Result<std::vector<User>> StoreImpl::ListUsersFiltered(const UserFilter& f) {
  Conditions where;
  where.Add("user_id > ?", f.after_id);
  if (f.source) where.Add("source = ?", std::string(RecordSourceName(*f.source)));
  if (!f.query.empty()) {
    // LIKE is case-insensitive for ASCII letters (SQLite without ICU).
    where.Add(
        "(external_id LIKE ? ESCAPE '\\' OR first_name LIKE ? ESCAPE '\\' OR "
        "last_name LIKE ? ESCAPE '\\')",
        ContainsPattern(f.query));
  }
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kUserColumns) + " FROM users" +
                                where.Sql() + " ORDER BY user_id LIMIT ?");
  if (!s.ok()) return s.status();
  s->Bind(where.Bind(*s), ClampLimit(f.limit));
  std::vector<User> out;
  FACEGATE_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& row) {
    out.push_back(ReadUser(row));
    return Status::Ok();
  }));
  return out;
}

Result<int64_t> StoreImpl::CountUsers() {
  std::lock_guard lock(mu_);
  return db_->QueryInt("SELECT count(*) FROM users");
}

Result<std::vector<Door>> StoreImpl::ListDoors() {
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare("SELECT " + std::string(kDoorColumns) + " FROM doors ORDER BY door_id");
  if (!s.ok()) return s.status();
  std::vector<Door> out;
  FACEGATE_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& row) {
    out.push_back(ReadDoor(row));
    return Status::Ok();
  }));
  return out;
}

Status StoreImpl::DeleteDoor(int64_t door_id) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  // The foreign keys would clear devices.door_id too (ON DELETE SET NULL); doing it here also
  // moves the devices' updated_at, as SetDeviceDoor does.
  Result<Stmt> devices =
      db_->Prepare("UPDATE devices SET door_id = NULL, updated_at_ms = ? WHERE door_id = ?");
  if (!devices.ok()) return devices.status();
  FACEGATE_RETURN_IF_ERROR(devices->Bind(1, NowMs()).Bind(2, door_id).Run());
  // access_rights go by ON DELETE CASCADE, events keep their row with door_id cleared by ON
  // DELETE SET NULL (schema versions 2 and 3), in this statement.
  Result<Stmt> del = db_->Prepare("DELETE FROM doors WHERE door_id = ?");
  if (!del.ok()) return del.status();
  FACEGATE_RETURN_IF_ERROR(del->Bind(1, door_id).Run());
  if (db_->Changes() == 0) return Status::NotFound("no door with id " + std::to_string(door_id));
  return txn->Commit();
}

Result<TemplateInfo> StoreImpl::GetTemplateInfo(int64_t template_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kTemplateInfoColumns) +
                                " FROM face_templates t JOIN users u USING (user_id) "
                                "WHERE t.template_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, template_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no template with id " + std::to_string(template_id));
  return ReadTemplateInfo(*s);
}

// ---------------------------------------------------------------- bulk import

Result<std::vector<ImportedRow>> StoreImpl::ImportBatch(std::span<const ImportRow> rows) {
  std::vector<ImportedRow> out;
  if (rows.empty()) return out;
  out.reserve(rows.size());
  std::lock_guard lock(mu_);
  // One transaction for the batch: any failure returns before Commit and rolls all back.
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  for (size_t i = 0; i < rows.size(); ++i) {
    const ImportRow& r = rows[i];
    const std::string context =
        "import row " + std::to_string(i) + " (user '" + r.user.external_id + "')";
    ImportedRow done;
    {
      Result<Stmt> existing = db_->Prepare("SELECT 1 FROM users WHERE external_id = ?");
      if (!existing.ok()) return existing.status();
      existing->Bind(1, r.user.external_id);
      Result<bool> found = existing->Step();
      if (!found.ok()) return found.status();
      done.user_created = !*found;
    }
    Result<int64_t> user_id = UpsertUserLocked(r.user);
    if (!user_id.ok()) return user_id.status().WithContext(context);
    done.user_id = *user_id;

    for (int64_t group_id : r.group_ids) {
      Result<Stmt> group = db_->Prepare("SELECT 1 FROM access_groups WHERE group_id = ?");
      if (!group.ok()) return group.status();
      group->Bind(1, group_id);
      Result<bool> found = group->Step();
      if (!found.ok()) return found.status();
      if (!*found) {
        return Status::NotFound(context + ": no access group with id " + std::to_string(group_id));
      }
      Result<Stmt> add = db_->Prepare(
          "INSERT INTO user_groups (user_id, group_id) VALUES (?, ?) ON CONFLICT DO NOTHING");
      if (!add.ok()) return add.status();
      FACEGATE_RETURN_IF_ERROR(add->Bind(1, done.user_id).Bind(2, group_id).Run());
    }

    done.template_ids.reserve(r.templates.size());
    for (size_t t = 0; t < r.templates.size(); ++t) {
      NewTemplate tmpl = r.templates[t];
      tmpl.user_id = done.user_id;
      // The same validation and encryption as AddTemplates.
      Result<int64_t> id = InsertTemplateLocked(tmpl);
      if (!id.ok()) {
        return id.status().WithContext(context + ", template " + std::to_string(t));
      }
      done.template_ids.push_back(*id);
    }
    out.push_back(std::move(done));
  }
  FACEGATE_RETURN_IF_ERROR(txn->Commit());
  return out;
}

// ---------------------------------------------------------------- integrations

// A sealed secret in the stored settings: {"sealed": "v1", "key_id": N, "nonce": hex,
// "data": hex, "tag": hex} in place of the string.
namespace {

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

bool FromHex(std::string_view hex, std::vector<uint8_t>* out) {
  if (hex.size() % 2 != 0) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  return true;
}

bool IsSealed(const nlohmann::json& v) { return v.is_object() && v.value("sealed", "") == "v1"; }

}  // namespace

Result<std::string> StoreImpl::SealSettingsLocked(std::string_view integration,
                                                  std::string_view settings_json) {
  nlohmann::json j = nlohmann::json::parse(settings_json, nullptr, false);
  if (!j.is_object()) {
    return Status::InvalidArgument("integration '" + std::string(integration) +
                                   "': settings must be a JSON object");
  }
  const TemplateKey* key = keyring_.current();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!IsSecretSettingKey(it.key()) || !it->is_string()) continue;
    std::string plain = it->get<std::string>();
    SealedTemplate sealed;
    Status s = cipher_.SealSetting(*key, std::string(integration) + "/" + it.key(), plain, &sealed);
    OPENSSL_cleanse(plain.data(), plain.size());
    FACEGATE_RETURN_IF_ERROR(s);
    *it = {{"sealed", "v1"},
           {"key_id", key->id()},
           {"nonce", ToHex(sealed.nonce)},
           {"data", ToHex(sealed.ciphertext)},
           {"tag", ToHex(sealed.tag)}};
  }
  return j.dump();
}

Result<std::string> StoreImpl::OpenSettingsLocked(std::string_view integration,
                                                  std::string_view stored_json) {
  nlohmann::json j = nlohmann::json::parse(stored_json, nullptr, false);
  if (!j.is_object()) {
    return Status::Corruption("integration '" + std::string(integration) +
                              "': the stored settings are not a JSON object");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!IsSealed(*it)) continue;
    const std::string name = std::string(integration) + "/" + it.key();
    const auto key_id = it->value("key_id", 0u);
    const TemplateKey* key = keyring_.Find(key_id);
    if (key == nullptr) {
      return Status::FailedPrecondition(
          "the setting " + name + " is sealed with key " + std::to_string(key_id) + ", but " +
          options_.key_dir.string() + " has no " + Keyring::KeyFileName(key_id) +
          ". Put the key file back (from the key backup)");
    }
    std::vector<uint8_t> nonce, data, tag;
    if (!FromHex(it->value("nonce", ""), &nonce) || !FromHex(it->value("data", ""), &data) ||
        !FromHex(it->value("tag", ""), &tag)) {
      return Status::Corruption("the setting " + name + " is malformed (not hex)");
    }
    std::string plain;
    FACEGATE_RETURN_IF_ERROR(cipher_.OpenSetting(*key, name, nonce, data, tag, &plain));
    *it = plain;
    OPENSSL_cleanse(plain.data(), plain.size());
  }
  return j.dump();
}

Status StoreImpl::ResealIntegrationSecretsLocked() {
  Result<Stmt> s = db_->Prepare("SELECT name, settings_json FROM integrations");
  if (!s.ok()) return s.status();
  const uint32_t current = keyring_.current()->id();
  std::vector<std::pair<std::string, std::string>> rewrite;
  for (;;) {
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string name(s->Text(0));
    nlohmann::json j = nlohmann::json::parse(s->Text(1), nullptr, false);
    if (!j.is_object()) continue;
    bool stale = false;
    for (auto it = j.begin(); it != j.end() && !stale; ++it) {
      if (!IsSecretSettingKey(it.key())) continue;
      stale = it->is_string() || (IsSealed(*it) && it->value("key_id", 0u) != current);
    }
    if (!stale) continue;
    auto plain = OpenSettingsLocked(name, s->Text(1));
    if (!plain.ok()) return plain.status();
    auto sealed = SealSettingsLocked(name, *plain);
    OPENSSL_cleanse(plain->data(), plain->size());
    if (!sealed.ok()) return sealed.status();
    rewrite.emplace_back(std::move(name), std::move(sealed).value());
  }
  s = Stmt();
  for (const auto& [name, json] : rewrite) {
    Result<Stmt> update = db_->Prepare("UPDATE integrations SET settings_json = ? WHERE name = ?");
    if (!update.ok()) return update.status();
    FACEGATE_RETURN_IF_ERROR(update->Bind(1, json).Bind(2, name).Run());
  }
  return Status::Ok();
}

Result<std::optional<Integration>> StoreImpl::GetIntegration(std::string_view name) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kIntegrationColumns) +
                                " FROM integrations WHERE name = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, name);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Integration>();
  Result<Integration> integration = ReadIntegration(*s);
  if (!integration.ok()) return integration.status();
  auto settings = OpenSettingsLocked(integration->name, integration->settings_json);
  if (!settings.ok()) return settings.status();
  integration->settings_json = std::move(settings).value();
  return std::optional<Integration>(std::move(*integration));
}

Result<std::vector<Integration>> StoreImpl::ListIntegrations() {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kIntegrationColumns) +
                                " FROM integrations ORDER BY name");
  if (!s.ok()) return s.status();
  std::vector<Integration> out;
  FACEGATE_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& row) -> Status {
    Result<Integration> integration = ReadIntegration(row);
    if (!integration.ok()) return integration.status();
    auto settings = OpenSettingsLocked(integration->name, integration->settings_json);
    if (!settings.ok()) return settings.status();
    integration->settings_json = std::move(settings).value();
    out.push_back(std::move(*integration));
    return Status::Ok();
  }));
  return out;
}

Status StoreImpl::PutIntegrationSettings(std::string_view name, bool enabled,
                                         std::string_view settings_json) {
  FACEGATE_RETURN_IF_ERROR(ValidateIntegrationName(name));
  std::lock_guard lock(mu_);
  Result<bool> object = IsJsonObject(*db_, settings_json);
  if (!object.ok()) return object.status();
  if (!*object) {
    return Status::InvalidArgument("integration '" + std::string(name) +
                                   "': settings must be a JSON object");
  }
  auto sealed = SealSettingsLocked(name, settings_json);
  if (!sealed.ok()) return sealed.status();
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO integrations (name, enabled, settings_json, updated_at_ms) "
      "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, "
      "settings_json = excluded.settings_json, updated_at_ms = excluded.updated_at_ms");
  if (!s.ok()) return s.status();
  return s->Bind(1, name).Bind(2, enabled ? 1 : 0).Bind(3, *sealed).Bind(4, NowMs()).Run();
}

Status StoreImpl::SetIntegrationStatus(std::string_view name, IntegrationStatus status,
                                       std::string_view error) {
  FACEGATE_RETURN_IF_ERROR(ValidateIntegrationName(name));
  std::lock_guard lock(mu_);
  // A new row starts from no_status: any other status is a change. In the UPDATE, bare
  // column names are the row's values before it; excluded.* those of the VALUES.
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO integrations (name, status, status_changed_at_ms, last_error, "
      "last_error_at_ms, updated_at_ms) "
      "VALUES (?1, ?2, CASE WHEN ?2 <> 'no_status' THEN ?4 END, ?3, "
      "CASE WHEN ?3 <> '' THEN ?4 END, ?4) "
      "ON CONFLICT (name) DO UPDATE SET status = excluded.status, "
      "status_changed_at_ms = CASE WHEN status <> excluded.status THEN ?4 "
      "ELSE status_changed_at_ms END, "
      "last_error = CASE WHEN ?3 <> '' THEN ?3 ELSE last_error END, "
      "last_error_at_ms = CASE WHEN ?3 <> '' THEN ?4 ELSE last_error_at_ms END");
  if (!s.ok()) return s.status();
  return s->Bind(1, name)
      .Bind(2, IntegrationStatusName(status))
      .Bind(3, error)
      .Bind(4, NowMs())
      .Run();
}

// ---------------------------------------------------------------- retention

Result<PurgeReport> StoreImpl::PurgeExpired(std::optional<WallTime> events_before,
                                            std::optional<WallTime> audit_before, int batch) {
  batch = std::max(batch, 1);
  PurgeReport report;
  // Deletes up to `batch` rows per transaction, taking the lock per batch (as RotateKey does)
  // so that events, enrollments and reads go on in between. Outbox rows of deleted events
  // stay deliverable: outbox.event_id is ON DELETE SET NULL.
  auto purge = [&](std::string_view sql, int64_t before_ms, int64_t* deleted) -> Status {
    for (;;) {
      std::lock_guard lock(mu_);
      Result<Transaction> txn = Transaction::Begin(*db_);
      if (!txn.ok()) return txn.status();
      Result<Stmt> s = db_->Prepare(sql);
      if (!s.ok()) return s.status();
      FACEGATE_RETURN_IF_ERROR(s->Bind(1, before_ms).Bind(2, batch).Run());
      const int n = db_->Changes();
      FACEGATE_RETURN_IF_ERROR(txn->Commit());
      *deleted += n;
      if (n < batch) return Status::Ok();
    }
  };
  if (events_before) {
    FACEGATE_RETURN_IF_ERROR(
        purge("DELETE FROM events WHERE event_id IN "
              "(SELECT event_id FROM events WHERE occurred_at_ms < ?1 LIMIT ?2)",
              ToMs(*events_before), &report.events));
  }
  if (audit_before) {
    FACEGATE_RETURN_IF_ERROR(
        purge("DELETE FROM audit_log WHERE audit_id IN "
              "(SELECT audit_id FROM audit_log WHERE at_ms < ?1 LIMIT ?2)",
              ToMs(*audit_before), &report.audit_rows));
  }
  if (report.events > 0 || report.audit_rows > 0) {
    // secure_delete (ConfigureConnection) has zeroed the deleted rows in the new page images;
    // a passive checkpoint moves those pages into the database file without waiting for
    // readers. The WAL is truncated later (Checkpoint, erasures).
    std::lock_guard lock(mu_);
    int rc =
        sqlite3_wal_checkpoint_v2(db_->get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      spdlog::warn("store: WAL checkpoint after the retention purge did not run ({})",
                   sqlite3_errstr(rc));
    }
    spdlog::info("store: retention purge deleted {} events and {} audit rows", report.events,
                 report.audit_rows);
  }
  return report;
}

// ---------------------------------------------------------------- events

Result<std::vector<StoredEvent>> StoreImpl::ListEvents(const EventFilter& f) {
  Conditions where;
  if (f.before_id > 0) where.Add("event_id < ?", f.before_id);
  if (f.after_id > 0) where.Add("event_id > ?", f.after_id);
  if (f.from) where.Add("occurred_at_ms >= ?", ToMs(*f.from));
  if (f.until) where.Add("occurred_at_ms < ?", ToMs(*f.until));
  if (f.door_id) where.Add("door_id = ?", *f.door_id);
  if (f.user_id) where.Add("user_id = ?", *f.user_id);
  if (f.device_id) where.Add("device_id = ?", *f.device_id);
  if (f.decision) {
    if (*f.decision != DecisionName(Decision::kGrant) &&
        *f.decision != DecisionName(Decision::kDeny)) {
      return Status::InvalidArgument("events: decision must be grant or deny, not '" + *f.decision +
                                     "'");
    }
    where.Add("decision = ?", *f.decision);
  }
  if (!f.reason.empty()) where.Add("reason = ?", f.reason);
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare(std::string(kEventColumns) + where.Sql() + " ORDER BY event_id DESC LIMIT ?");
  if (!s.ok()) return s.status();
  s->Bind(where.Bind(*s), ClampLimit(f.limit));
  std::vector<StoredEvent> out;
  FACEGATE_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& row) {
    out.push_back(ReadEventRow(row));
    return Status::Ok();
  }));
  return out;
}

}  // namespace facegate::store::internal
