#include "store/store_impl.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>

#include "store/rows.h"
#include "store/schema.h"

namespace facegate::store {

int CurrentSchemaVersion() { return internal::LatestSchemaVersion(); }

namespace internal {
namespace {

constexpr int kMaxDimension = 4096;
constexpr std::string_view kRotationTarget = "key_rotation.target_key_id";
constexpr std::string_view kRotationDone = "key_rotation.reencrypted";
constexpr std::string_view kRotationStarted = "key_rotation.started_at_ms";
constexpr std::string_view kRotationFinished = "key_rotation.finished_at_ms";

Result<int64_t> RandomTemplateId() {
  for (;;) {
    uint64_t v = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) {
      return Status::Internal("no randomness for a template id");
    }
    v &= 0x7fffffffffffffffULL;  // positive: SQLite integers are signed
    if (v != 0) return static_cast<int64_t>(v);
  }
}

Status ValidateTemplate(const NewTemplate& t) {
  if (t.user_id <= 0) return Status::InvalidArgument("template: user_id must be set");
  if (t.model_version.empty()) return Status::InvalidArgument("template: model_version is empty");
  if (t.values.empty() || t.values.size() > kMaxDimension) {
    return Status::InvalidArgument("template: dimension " + std::to_string(t.values.size()) +
                                   " is outside 1.." + std::to_string(kMaxDimension));
  }
  for (float v : t.values) {
    if (!std::isfinite(v)) return Status::InvalidArgument("template: a value is not finite");
  }
  return Status::Ok();
}

// Creates the database file with mode 0600 before SQLite opens it (SQLite would use 0644, and
// gives its -wal and -shm files the database's mode).
Status CreateDatabaseFile(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Status::Ok();
    return Status::IOError("cannot create the database " + file.string() + ": " +
                           std::strerror(errno));
  }
  ::close(fd);
  return Status::Ok();
}

Status FsyncPath(const std::filesystem::path& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + path.string() + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError("fsync " + path.string() + ": " + std::strerror(err));
  return Status::Ok();
}

std::filesystem::path ParentOf(const std::filesystem::path& p) {
  return p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
}

// Runs quick_check or integrity_check; returns the problems found (empty: the file is sound).
Result<std::vector<std::string>> RunCheck(Connection& db, bool full) {
  Result<Stmt> check = db.Prepare(full ? "PRAGMA integrity_check(20)" : "PRAGMA quick_check(20)");
  if (!check.ok()) return check.status();
  std::vector<std::string> problems;
  for (;;) {
    Result<bool> row = check->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string line(check->Text(0));
    if (line != "ok") problems.push_back(std::move(line));
  }
  if (full && problems.empty()) {
    Result<Stmt> fk = db.Prepare("PRAGMA foreign_key_check");
    if (!fk.ok()) return fk.status();
    for (int n = 0; n < 20; ++n) {
      Result<bool> row = fk->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      problems.push_back("foreign key violation in table " + std::string(fk->Text(0)) + " row " +
                         std::to_string(fk->Int(1)));
    }
  }
  return problems;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "; ") + l;
  return out;
}

// What a backup (or a database about to be restored) holds.
Result<BackupInfo> DescribeDatabase(Connection& db, const std::filesystem::path& file) {
  BackupInfo info;
  info.file = file.string();
  Result<int> version = ReadSchemaVersion(db);
  if (!version.ok()) return version.status();
  info.schema_version = *version;
  if (*version == 0) return Status::Corruption(file.string() + " holds no Facegate schema");
  if (*version > LatestSchemaVersion()) {
    return Status::FailedPrecondition(file.string() + " has schema version " +
                                      std::to_string(*version) + ", newer than this Facegate (" +
                                      std::to_string(LatestSchemaVersion()) + ")");
  }
  Result<int64_t> users = db.QueryInt("SELECT count(*) FROM users");
  if (!users.ok()) return users.status();
  info.users = *users;
  Result<int64_t> templates = db.QueryInt("SELECT count(*) FROM face_templates");
  if (!templates.ok()) return templates.status();
  info.templates = *templates;
  Result<Stmt> keys = db.Prepare("SELECT DISTINCT key_id FROM face_templates ORDER BY key_id");
  if (!keys.ok()) return keys.status();
  for (;;) {
    Result<bool> row = keys->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    info.key_ids.push_back(static_cast<uint32_t>(keys->Int(0)));
  }
  std::error_code ec;
  info.bytes = static_cast<int64_t>(std::filesystem::file_size(file, ec));
  return info;
}

}  // namespace

StoreImpl::StoreImpl(const StoreOptions& options, const Clock& clock,
                     std::unique_ptr<Connection> db, Keyring keyring)
    : options_(options), clock_(clock), db_(std::move(db)), keyring_(std::move(keyring)) {}

StoreImpl::~StoreImpl() {
  std::lock_guard lock(mu_);
  db_.reset();
}

int64_t StoreImpl::NowMs() const { return ToMs(clock_.Now()); }

Status StoreImpl::ConfigureConnection() {
  sqlite3_busy_timeout(db_->get(), options_.busy_timeout_ms);
  // (trusted_schema stays ON: SQLite 3.40 counts json_valid(), used by our CHECK constraints,
  // as unsafe in a schema; the file is the daemon's own, mode 0600.)
  // WAL: readers never block the writer. synchronous=FULL: in WAL mode NORMAL would make a
  // commit durable only at the next checkpoint, and a caller told "committed" must be able to
  // rely on it after a power loss; group commit pays for the extra fsync.
  Result<std::string> mode = db_->QueryText("PRAGMA journal_mode = WAL");
  if (!mode.ok()) return mode.status();
  if (*mode != "wal") {
    return Status::FailedPrecondition("SQLite refused WAL mode (journal_mode is " + *mode + ")");
  }
  FACEGATE_RETURN_IF_ERROR(
      db_->Exec("PRAGMA synchronous = FULL;"
                "PRAGMA foreign_keys = ON;"
                "PRAGMA secure_delete = ON;"
                "PRAGMA temp_store = MEMORY;"
                "PRAGMA cache_size = -16384;"
                "PRAGMA journal_size_limit = " +
                std::to_string(options_.wal_size_limit_bytes)));
  Result<int64_t> fk = db_->QueryInt("PRAGMA foreign_keys");
  Result<int64_t> sd = db_->QueryInt("PRAGMA secure_delete");
  if (!fk.ok()) return fk.status();
  if (!sd.ok()) return sd.status();
  if (*fk != 1 || *sd != 1) {
    return Status::FailedPrecondition(
        "this SQLite build does not support foreign_keys or secure_delete");
  }
  return Status::Ok();
}

Status StoreImpl::CheckIntegrity() {
  if (options_.startup_check == StartupCheck::kOff) return Status::Ok();
  const bool full = options_.startup_check == StartupCheck::kFull;
  Result<std::vector<std::string>> problems = RunCheck(*db_, full);
  if (!problems.ok()) {
    if (problems.status().code() != StatusCode::kCorruption) return problems.status();
    problems = std::vector<std::string>{problems.status().message()};
  }
  if (problems->empty()) return Status::Ok();
  return Status::Corruption(options_.db_file.string() + " failed " +
                            (full ? "PRAGMA integrity_check" : "PRAGMA quick_check") + ": " +
                            JoinLines(*problems) +
                            ". Refusing to start on a damaged database: stop facegated, keep the "
                            "damaged file for analysis and restore the last backup (see "
                            "docs/store.md, \"Restore\")");
}

Status StoreImpl::Initialize() {
  std::lock_guard lock(mu_);
  const std::string name = options_.db_file.string();
  // SQLite reports a damaged or foreign file while configuring or migrating it.
  auto refuse = [&](Status s) {
    if (s.code() != StatusCode::kCorruption) return s;
    return Status::Corruption("cannot use " + name + ": " + s.message() +
                              ". Refusing to start on a damaged or foreign database: restore "
                              "the last backup (see docs/store.md, \"Restore\")");
  };
  FACEGATE_RETURN_IF_ERROR(refuse(ConfigureConnection()));
  FACEGATE_RETURN_IF_ERROR(CheckIntegrity());
  FACEGATE_RETURN_IF_ERROR(refuse(Migrate(*db_, clock_, name)));
  return VerifyKeys();
}

Status StoreImpl::VerifyKeys() {
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  for (uint32_t id : keyring_.ids()) {
    const TemplateKey* key = keyring_.Find(id);
    Result<Stmt> find = db_->Prepare("SELECT fingerprint FROM template_keys WHERE key_id = ?");
    if (!find.ok()) return find.status();
    find->Bind(1, static_cast<int64_t>(id));
    Result<bool> row = find->Step();
    if (!row.ok()) return row.status();
    if (*row) {
      if (find->Text(0) != key->fingerprint()) {
        return Status::Corruption(
            "the template key " + key->file().string() + " (key id " + std::to_string(id) +
            ") is not the key this database's templates were encrypted with (the database "
            "records fingerprint " +
            std::string(find->Text(0)) + ", the file has " + key->fingerprint() +
            "). Put the right key file back (from the key backup); never replace a key");
      }
      continue;
    }
    Result<Stmt> insert = db_->Prepare(
        "INSERT INTO template_keys (key_id, fingerprint, added_at_ms) VALUES (?, ?, ?)");
    if (!insert.ok()) return insert.status();
    FACEGATE_RETURN_IF_ERROR(insert->Bind(1, static_cast<int64_t>(id))
                                 .Bind(2, key->fingerprint())
                                 .Bind(3, NowMs())
                                 .Run());
  }
  Result<Stmt> used = db_->Prepare(
      "SELECT key_id, count(*) FROM (SELECT key_id FROM face_templates UNION ALL "
      "SELECT key_id FROM face_photos) GROUP BY key_id ORDER BY key_id");
  if (!used.ok()) return used.status();
  for (;;) {
    Result<bool> row = used->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const auto id = static_cast<uint32_t>(used->Int(0));
    if (keyring_.Find(id) == nullptr) {
      return Status::FailedPrecondition(
          std::to_string(used->Int(1)) + " face templates or photos are encrypted with key " +
          std::to_string(id) + ", but " + options_.key_dir.string() + " has no " +
          Keyring::KeyFileName(id) + ". Put the key file back (from the key backup)");
    }
    if (id > keyring_.current()->id()) {
      return Status::Internal("templates use key " + std::to_string(id) + " above the current key");
    }
  }
  used = Stmt();
  FACEGATE_RETURN_IF_ERROR(ResealIntegrationSecretsLocked());
  return txn->Commit();
}

// ---------------------------------------------------------------- settings

Result<std::optional<std::string>> StoreImpl::GetSettingLocked(std::string_view key) {
  Result<Stmt> s = db_->Prepare("SELECT value FROM settings WHERE key = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, key);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(std::string(s->Text(0)));
}

Status StoreImpl::SetSettingLocked(std::string_view key, std::string_view value) {
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO settings (key, value, updated_at_ms) VALUES (?, ?, ?) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
      "updated_at_ms = excluded.updated_at_ms");
  if (!s.ok()) return s.status();
  return s->Bind(1, key).Bind(2, value).Bind(3, NowMs()).Run();
}

Result<std::optional<std::string>> StoreImpl::GetSetting(std::string_view key) {
  std::lock_guard lock(mu_);
  return GetSettingLocked(key);
}

Status StoreImpl::SetSetting(std::string_view key, std::string_view value) {
  if (key.empty()) return Status::InvalidArgument("setting: empty key");
  std::lock_guard lock(mu_);
  return SetSettingLocked(key, value);
}

Status StoreImpl::DeleteSettingLocked(std::string_view key) {
  Result<Stmt> s = db_->Prepare("DELETE FROM settings WHERE key = ?");
  if (!s.ok()) return s.status();
  return s->Bind(1, key).Run();
}

Status StoreImpl::DeleteSetting(std::string_view key) {
  std::lock_guard lock(mu_);
  return DeleteSettingLocked(key);
}

// ---------------------------------------------------------------- users

Result<int64_t> StoreImpl::UpsertUser(const User& u) {
  std::lock_guard lock(mu_);
  return UpsertUserLocked(u);
}

Result<int64_t> StoreImpl::UpsertUserLocked(const User& u) {
  if (u.external_id.empty()) return Status::InvalidArgument("user: external_id is empty");
  if (u.valid_from && u.valid_until && *u.valid_until < *u.valid_from) {
    return Status::InvalidArgument("user " + u.external_id + ": valid_until is before valid_from");
  }
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO users (external_id, first_name, last_name, active, banned, valid_from_ms, "
      "valid_until_ms, source, created_at_ms, updated_at_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) "
      "ON CONFLICT (external_id) DO UPDATE SET first_name = excluded.first_name, "
      "last_name = excluded.last_name, active = excluded.active, banned = excluded.banned, "
      "valid_from_ms = excluded.valid_from_ms, valid_until_ms = excluded.valid_until_ms, "
      "source = excluded.source, updated_at_ms = excluded.updated_at_ms "
      "RETURNING user_id");
  if (!s.ok()) return s.status();
  s->Bind(1, u.external_id)
      .Bind(2, u.first_name)
      .Bind(3, u.last_name)
      .Bind(4, u.active ? 1 : 0)
      .Bind(5, u.banned ? 1 : 0)
      .Bind(6, ToMs(u.valid_from))
      .Bind(7, ToMs(u.valid_until))
      .Bind(8, RecordSourceName(u.source))
      .Bind(9, NowMs());
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Internal("upsert of user " + u.external_id + " returned no id");
  int64_t id = s->Int(0);
  FACEGATE_RETURN_IF_ERROR(s->Run());  // finish the statement so the write commits
  return id;
}

Result<User> StoreImpl::GetUser(int64_t user_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare("SELECT " + std::string(kUserColumns) + " FROM users WHERE user_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, user_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no user with id " + std::to_string(user_id));
  return ReadUser(*s);
}

Result<User> StoreImpl::FindUserByExternalId(std::string_view external_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare("SELECT " + std::string(kUserColumns) + " FROM users WHERE external_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, external_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no user with external id '" + std::string(external_id) + "'");
  return ReadUser(*s);
}

Result<std::vector<User>> StoreImpl::ListUsers(int64_t after_id, int limit) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kUserColumns) +
                                " FROM users WHERE user_id > ? ORDER BY user_id LIMIT ?");
  if (!s.ok()) return s.status();
  s->Bind(1, after_id).Bind(2, std::max(limit, 0));
  std::vector<User> users;
  for (;;) {
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    users.push_back(ReadUser(*s));
  }
  return users;
}

bool StoreImpl::CheckpointTruncateLocked() {
  int log_frames = 0;
  int checkpointed = 0;
  int rc = sqlite3_wal_checkpoint_v2(db_->get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
                                     &checkpointed);
  if (rc != SQLITE_OK) {
    spdlog::warn(
        "store: WAL checkpoint did not complete ({}); erased data leaves the WAL at "
        "the next checkpoint",
        sqlite3_errstr(rc));
    return false;
  }
  return true;
}

Result<ErasureReport> StoreImpl::EraseLocked(int64_t user_id, bool delete_user) {
  ErasureReport report;
  {
    Result<Transaction> txn = Transaction::Begin(*db_);
    if (!txn.ok()) return txn.status();
    Result<Stmt> exists = db_->Prepare("SELECT 1 FROM users WHERE user_id = ?");
    if (!exists.ok()) return exists.status();
    exists->Bind(1, user_id);
    Result<bool> row = exists->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no user with id " + std::to_string(user_id));
    // Photos and templates first (not only by cascade) to count them.
    Result<Stmt> del_photos = db_->Prepare("DELETE FROM face_photos WHERE user_id = ?");
    if (!del_photos.ok()) return del_photos.status();
    FACEGATE_RETURN_IF_ERROR(del_photos->Bind(1, user_id).Run());
    report.photos_deleted = db_->Changes();
    Result<Stmt> del = db_->Prepare("DELETE FROM face_templates WHERE user_id = ?");
    if (!del.ok()) return del.status();
    FACEGATE_RETURN_IF_ERROR(del->Bind(1, user_id).Run());
    report.templates_deleted = db_->Changes();
    if (delete_user) {
      Result<Stmt> del_user = db_->Prepare("DELETE FROM users WHERE user_id = ?");
      if (!del_user.ok()) return del_user.status();
      FACEGATE_RETURN_IF_ERROR(del_user->Bind(1, user_id).Run());
      report.user_deleted = db_->Changes() == 1;
    }
    FACEGATE_RETURN_IF_ERROR(txn->Commit());
  }
  // secure_delete zeroed the rows in the new page images; the old images are still in the WAL
  // (and, until the checkpoint, in the database file): checkpoint and truncate the WAL.
  report.wal_truncated = CheckpointTruncateLocked();
  return report;
}

Result<ErasureReport> StoreImpl::EraseUser(int64_t user_id) {
  std::lock_guard lock(mu_);
  return EraseLocked(user_id, /*delete_user=*/true);
}

Result<ErasureReport> StoreImpl::EraseTemplatesOfUser(int64_t user_id) {
  std::lock_guard lock(mu_);
  return EraseLocked(user_id, /*delete_user=*/false);
}

// ---------------------------------------------------------------- templates

Result<int64_t> StoreImpl::InsertTemplateLocked(const NewTemplate& t) {
  FACEGATE_RETURN_IF_ERROR(ValidateTemplate(t));
  Result<Stmt> exists = db_->Prepare("SELECT 1 FROM users WHERE user_id = ?");
  if (!exists.ok()) return exists.status();
  exists->Bind(1, t.user_id);
  Result<bool> row = exists->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("template: no user with id " + std::to_string(t.user_id));

  const TemplateKey* key = keyring_.current();
  Result<Stmt> insert = db_->Prepare(
      "INSERT INTO face_templates (template_id, user_id, source, model_version, quality_json, "
      "created_at_ms, key_id, dimension, nonce, ciphertext, tag) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.status();
  SealedTemplate sealed;
  // A random id collides with probability n / 2^63; try again with another id if it does.
  for (int attempt = 0;; ++attempt) {
    Result<int64_t> id = RandomTemplateId();
    if (!id.ok()) return id.status();
    TemplateAad aad{*id, t.user_id, key->id(), t.model_version};
    FACEGATE_RETURN_IF_ERROR(cipher_.Seal(*key, aad, t.values, &sealed));
    insert->Bind(1, *id)
        .Bind(2, t.user_id)
        .Bind(3, TemplateSourceName(t.source))
        .Bind(4, t.model_version)
        .Bind(5, t.quality_json)
        .Bind(6, NowMs())
        .Bind(7, static_cast<int64_t>(key->id()))
        .Bind(8, static_cast<int64_t>(t.values.size()))
        .BindBlob(9, sealed.nonce)
        .BindBlob(10, sealed.ciphertext)
        .BindBlob(11, sealed.tag);
    Status s = insert->Run();
    if (s.ok()) {
      if (!t.photo.empty()) FACEGATE_RETURN_IF_ERROR(InsertPhotoLocked(*id, t));
      return *id;
    }
    if (s.code() != StatusCode::kAlreadyExists || attempt >= 3) {
      if (s.code() == StatusCode::kInvalidArgument) {
        return Status::InvalidArgument("template: " + s.message() +
                                       " (is quality_json a JSON object?)");
      }
      return s;
    }
    insert->Reset();
  }
}

Status StoreImpl::InsertPhotoLocked(int64_t template_id, const NewTemplate& t) {
  if (t.photo_media_type.empty() || t.photo_media_type.size() > 100) {
    return Status::InvalidArgument("template: the photo's media type must be 1 to 100 characters");
  }
  const TemplateKey* key = keyring_.current();
  SealedTemplate sealed;
  FACEGATE_RETURN_IF_ERROR(cipher_.SealPhoto(
      *key, PhotoAad{template_id, t.user_id, key->id(), t.photo_media_type}, t.photo, &sealed));
  Result<Stmt> insert = db_->Prepare(
      "INSERT INTO face_photos (template_id, user_id, media_type, created_at_ms, key_id, nonce, "
      "ciphertext, tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.status();
  return insert->Bind(1, template_id)
      .Bind(2, t.user_id)
      .Bind(3, t.photo_media_type)
      .Bind(4, NowMs())
      .Bind(5, static_cast<int64_t>(key->id()))
      .BindBlob(6, sealed.nonce)
      .BindBlob(7, sealed.ciphertext)
      .BindBlob(8, sealed.tag)
      .Run();
}

Result<StoredPhoto> StoreImpl::LoadTemplatePhoto(int64_t template_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "SELECT user_id, media_type, created_at_ms, key_id, nonce, ciphertext, tag "
      "FROM face_photos WHERE template_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, template_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) {
    return Status::NotFound("no photo is kept for template " + std::to_string(template_id));
  }
  StoredPhoto photo;
  photo.template_id = template_id;
  photo.user_id = s->Int(0);
  photo.media_type = s->Text(1);
  photo.created_at = FromMs(s->Int(2));
  const auto key_id = static_cast<uint32_t>(s->Int(3));
  const TemplateKey* key = keyring_.Find(key_id);
  if (key == nullptr) {
    return Status::FailedPrecondition("the photo of template " + std::to_string(template_id) +
                                      " uses key " + std::to_string(key_id) +
                                      ", which is not loaded");
  }
  FACEGATE_RETURN_IF_ERROR(
      cipher_.OpenPhoto(*key, PhotoAad{template_id, photo.user_id, key_id, photo.media_type},
                        s->Blob(4), s->Blob(5), s->Blob(6), &photo.bytes));
  return photo;
}

Result<int64_t> StoreImpl::CountPhotos() {
  std::lock_guard lock(mu_);
  return db_->QueryInt("SELECT count(*) FROM face_photos");
}

Result<std::vector<ExportedTemplate>> StoreImpl::ExportTemplates(int64_t after_id, int limit) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kTemplateInfoColumns) +
                                ", t.nonce, t.ciphertext, t.tag FROM face_templates t "
                                "JOIN users u USING (user_id) WHERE t.template_id > ? "
                                "ORDER BY t.template_id LIMIT ?");
  if (!s.ok()) return s.status();
  s->Bind(1, after_id).Bind(2, std::clamp(limit, 1, 10000));
  std::vector<ExportedTemplate> out;
  for (;;) {
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    ExportedTemplate e;
    e.info = ReadTemplateInfo(*s);
    const TemplateKey* key = keyring_.Find(e.info.key_id);
    if (key == nullptr) {
      return Status::FailedPrecondition("template " + std::to_string(e.info.id) + " uses key " +
                                        std::to_string(e.info.key_id) + ", which is not loaded");
    }
    std::span<const uint8_t> ciphertext = s->Blob(11);
    e.values.resize(ciphertext.size() / sizeof(float));
    FACEGATE_RETURN_IF_ERROR(cipher_.Open(
        *key, TemplateAad{e.info.id, e.info.user_id, e.info.key_id, e.info.model_version},
        s->Blob(10), ciphertext, s->Blob(12), e.values.data()));
    out.push_back(std::move(e));
  }
  return out;
}

Result<int64_t> StoreImpl::AddTemplate(const NewTemplate& tmpl) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  Result<int64_t> id = InsertTemplateLocked(tmpl);
  if (!id.ok()) return id.status();
  FACEGATE_RETURN_IF_ERROR(txn->Commit());
  return id;
}

Result<std::vector<int64_t>> StoreImpl::AddTemplates(std::span<const NewTemplate> templates) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  std::vector<int64_t> ids;
  ids.reserve(templates.size());
  for (size_t i = 0; i < templates.size(); ++i) {
    Result<int64_t> id = InsertTemplateLocked(templates[i]);
    if (!id.ok()) return id.status().WithContext("template " + std::to_string(i) + " of the batch");
    ids.push_back(*id);
  }
  FACEGATE_RETURN_IF_ERROR(txn->Commit());
  return ids;
}

Status StoreImpl::DeleteTemplate(int64_t template_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> del = db_->Prepare("DELETE FROM face_templates WHERE template_id = ?");
  if (!del.ok()) return del.status();
  FACEGATE_RETURN_IF_ERROR(del->Bind(1, template_id).Run());
  if (db_->Changes() == 0) {
    return Status::NotFound("no template with id " + std::to_string(template_id));
  }
  CheckpointTruncateLocked();  // a face is personal data: get it out of the WAL too
  return Status::Ok();
}

Result<std::vector<TemplateInfo>> StoreImpl::ListTemplatesOfUser(int64_t user_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kTemplateInfoColumns) +
                                " FROM face_templates t JOIN users u USING (user_id) "
                                "WHERE t.user_id = ? ORDER BY t.created_at_ms, t.template_id");
  if (!s.ok()) return s.status();
  s->Bind(1, user_id);
  std::vector<TemplateInfo> out;
  for (;;) {
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(ReadTemplateInfo(*s));
  }
  return out;
}

Result<std::vector<TemplateInfo>> StoreImpl::ListTemplatesForReEnrollment(
    std::string_view current_model_version) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kTemplateInfoColumns) +
                                " FROM face_templates t JOIN users u USING (user_id) "
                                "WHERE t.model_version <> ? ORDER BY t.user_id, t.template_id");
  if (!s.ok()) return s.status();
  s->Bind(1, current_model_version);
  std::vector<TemplateInfo> out;
  for (;;) {
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(ReadTemplateInfo(*s));
  }
  return out;
}

Result<TemplateMatrix> StoreImpl::LoadTemplatesForIndex(std::string_view model_version) {
  std::lock_guard lock(mu_);
  // One read transaction, so the count and the rows agree.
  Result<ReadTransaction> read = ReadTransaction::Begin(*db_);
  if (!read.ok()) return read.status();

  TemplateMatrix m;
  m.model_version = model_version;
  Result<int64_t> last = db_->QueryInt("SELECT coalesce(max(change_id), 0) FROM template_changes");
  if (!last.ok()) return last.status();
  m.last_change_id = *last;
  // The model index answers the count alone (no visit of the rows).
  Result<Stmt> count = db_->Prepare("SELECT count(*) FROM face_templates WHERE model_version = ?");
  if (!count.ok()) return count.status();
  count->Bind(1, model_version);
  Result<bool> row = count->Step();
  if (!row.ok()) return row.status();
  const int64_t n = count->Int(0);
  if (n == 0) return m;
  m.template_ids.reserve(n);
  m.user_ids.reserve(n);
  size_t dim = 0;

  // A scan of the table in rowid order: nearly every row is of the current model, and
  // visiting rows through the model index costs a b-tree descent per row.
  Result<Stmt> s = db_->Prepare(
      "SELECT template_id, user_id, key_id, dimension, nonce, ciphertext, tag "
      "FROM face_templates NOT INDEXED WHERE model_version = ? ORDER BY template_id");
  if (!s.ok()) return s.status();
  s->Bind(1, model_version);
  size_t i = 0;
  for (;; ++i) {
    row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const int64_t id = s->Int(0);
    if (i == 0) {
      dim = static_cast<size_t>(s->Int(3));
      m.dimension = static_cast<int>(dim);
      m.values.resize(static_cast<size_t>(n) * dim);
    }
    if (i >= static_cast<size_t>(n) || static_cast<size_t>(s->Int(3)) != dim) {
      return Status::Corruption("template " + std::to_string(id) + " of model " +
                                std::string(model_version) + " has dimension " +
                                std::to_string(s->Int(3)) + ", the others " + std::to_string(dim));
    }
    FACEGATE_RETURN_IF_ERROR(OpenTemplateRowLocked(*s, model_version, dim, &m.values[i * dim]));
    m.template_ids.push_back(id);
    m.user_ids.push_back(s->Int(1));
  }
  m.values.resize(i * dim);
  return m;
}

Status StoreImpl::OpenTemplateRowLocked(Stmt& s, std::string_view model_version, size_t dim,
                                        float* out) {
  const int64_t id = s.Int(0);
  const auto key_id = static_cast<uint32_t>(s.Int(2));
  std::span<const uint8_t> ciphertext = s.Blob(5);
  if (ciphertext.size() != dim * sizeof(float)) {
    return Status::Corruption("template " + std::to_string(id) +
                              " has a length that does not match its dimension");
  }
  const TemplateKey* key = keyring_.Find(key_id);
  if (key == nullptr) {
    return Status::Corruption("template " + std::to_string(id) + " is encrypted with key " +
                              std::to_string(key_id) + ", which is not loaded");
  }
  TemplateAad aad{id, s.Int(1), key_id, model_version};
  return cipher_.Open(*key, aad, s.Blob(4), ciphertext, s.Blob(6), out);
}

Status StoreImpl::AppendTemplateRowsLocked(Stmt& s, std::string_view model_version,
                                           TemplateMatrix* m) {
  for (;;) {
    Result<bool> row = s.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    const auto dim = static_cast<size_t>(s.Int(3));
    if (m->dimension == 0) m->dimension = static_cast<int>(dim);
    if (static_cast<size_t>(m->dimension) != dim) {
      return Status::Corruption(
          "template " + std::to_string(s.Int(0)) + " of model " + std::string(model_version) +
          " has dimension " + std::to_string(dim) + ", the others " + std::to_string(m->dimension));
    }
    m->values.resize(m->values.size() + dim);
    FACEGATE_RETURN_IF_ERROR(
        OpenTemplateRowLocked(s, model_version, dim, m->values.data() + m->values.size() - dim));
    m->template_ids.push_back(s.Int(0));
    m->user_ids.push_back(s.Int(1));
  }
}

Result<TemplateChanges> StoreImpl::TemplateChangesSince(int64_t after_change_id,
                                                        std::string_view model_version, int limit) {
  if (limit < 1) return Status::InvalidArgument("limit must be at least 1");
  std::lock_guard lock(mu_);
  // One read transaction: the log range and the rows it names agree.
  Result<ReadTransaction> read = ReadTransaction::Begin(*db_);
  if (!read.ok()) return read.status();

  TemplateChanges out;
  out.last_change_id = after_change_id;
  out.added.model_version = model_version;
  Result<Stmt> log = db_->Prepare(
      "SELECT change_id, template_id, op, user_id FROM template_changes WHERE change_id > ? "
      "ORDER BY change_id LIMIT ?");
  if (!log.ok()) return log.status();
  log->Bind(1, after_change_id).Bind(2, static_cast<int64_t>(limit) + 1);
  int rows = 0;
  for (;;) {
    Result<bool> row = log->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (++rows > limit) {
      out.more = true;
      break;
    }
    out.last_change_id = log->Int(0);
    if (log->Text(2) == "remove") {
      out.removed.push_back(log->Int(1));
      out.removed_user_ids.push_back(log->Int(3));
    }
  }
  if (out.last_change_id == after_change_id) return out;

  // The additions that still exist, decrypted, in log order.
  Result<Stmt> s = db_->Prepare(
      "SELECT t.template_id, t.user_id, t.key_id, t.dimension, t.nonce, t.ciphertext, t.tag "
      "FROM template_changes c JOIN face_templates t ON t.template_id = c.template_id "
      "WHERE c.change_id > ? AND c.change_id <= ? AND c.op = 'add' AND c.model_version = ? "
      "AND t.model_version = ? ORDER BY c.change_id");
  if (!s.ok()) return s.status();
  s->Bind(1, after_change_id)
      .Bind(2, out.last_change_id)
      .Bind(3, model_version)
      .Bind(4, model_version);
  FACEGATE_RETURN_IF_ERROR(AppendTemplateRowsLocked(*s, model_version, &out.added));
  out.added.last_change_id = out.last_change_id;
  return out;
}

Result<TemplateMatrix> StoreImpl::LoadTemplatesOfUser(int64_t user_id,
                                                      std::string_view model_version) {
  std::lock_guard lock(mu_);
  TemplateMatrix m;
  m.model_version = model_version;
  Result<Stmt> s = db_->Prepare(
      "SELECT template_id, user_id, key_id, dimension, nonce, ciphertext, tag "
      "FROM face_templates WHERE user_id = ? AND model_version = ? ORDER BY template_id");
  if (!s.ok()) return s.status();
  s->Bind(1, user_id).Bind(2, model_version);
  FACEGATE_RETURN_IF_ERROR(AppendTemplateRowsLocked(*s, model_version, &m));
  return m;
}

Result<int64_t> StoreImpl::DataVersion() {
  std::lock_guard lock(mu_);
  return db_->QueryInt("PRAGMA data_version");
}

Result<int64_t> StoreImpl::PruneTemplateChanges(int64_t up_to_change_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("DELETE FROM template_changes WHERE change_id <= ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, up_to_change_id).Run());
  return static_cast<int64_t>(db_->Changes());
}

Result<int64_t> StoreImpl::CountTemplates() {
  std::lock_guard lock(mu_);
  return db_->QueryInt("SELECT count(*) FROM face_templates");
}

// ---------------------------------------------------------------- keys

Result<uint32_t> StoreImpl::AddKey() {
  if (options_.key_source == KeySource::kSystemdCredentials) {
    return Status::FailedPrecondition(
        "the template keys come from systemd credentials: generate a key file "
        "(facegatectl store generate-key FILE), add it as LoadCredential=template.<N>.key:FILE "
        "to the unit and restart; then rotate");
  }
  std::lock_guard lock(mu_);
  Result<uint32_t> id = Keyring::CreateNextKey(options_.key_dir);
  if (!id.ok()) return id.status();
  Result<Keyring> ring = Keyring::Load(options_.key_dir);
  if (!ring.ok()) return ring.status();
  keyring_ = std::move(*ring);
  FACEGATE_RETURN_IF_ERROR(VerifyKeys());
  spdlog::info("store: template key {} created ({}); new templates use it", *id,
               (options_.key_dir / Keyring::KeyFileName(*id)).string());
  return id;
}

Result<uint32_t> StoreImpl::ReloadKeys() {
  if (options_.key_source == KeySource::kSystemdCredentials) return keyring_.current()->id();
  std::lock_guard lock(mu_);
  Result<Keyring> ring = Keyring::Load(options_.key_dir);
  if (!ring.ok()) return ring.status();
  if (ring->empty())
    return Status::FailedPrecondition("no template key in " + options_.key_dir.string());
  Keyring previous = std::move(keyring_);
  keyring_ = std::move(*ring);
  if (Status s = VerifyKeys(); !s.ok()) {
    keyring_ = std::move(previous);  // keep serving with the keys that were verified
    return s;
  }
  if (keyring_.current()->id() != previous.current()->id()) {
    spdlog::info("store: template key {} loaded; new templates use it", keyring_.current()->id());
  }
  return keyring_.current()->id();
}

Result<int64_t> StoreImpl::CountBelowKeyLocked(uint32_t key_id) {
  Result<Stmt> s = db_->Prepare(
      "SELECT (SELECT count(*) FROM face_templates WHERE key_id < ?1) + "
      "(SELECT count(*) FROM face_photos WHERE key_id < ?1)");
  if (!s.ok()) return s.status();
  s->Bind(1, static_cast<int64_t>(key_id));
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  return s->Int(0);
}

Result<KeyRotationProgress> StoreImpl::KeyRotationStatus() {
  std::lock_guard lock(mu_);
  KeyRotationProgress p;
  p.target_key_id = keyring_.current()->id();
  Result<std::optional<std::string>> target = GetSettingLocked(kRotationTarget);
  if (!target.ok()) return target.status();
  if (*target && **target == std::to_string(p.target_key_id)) {
    Result<std::optional<std::string>> done = GetSettingLocked(kRotationDone);
    if (!done.ok()) return done.status();
    if (*done) p.reencrypted = std::stoll(**done);
  }
  Result<int64_t> remaining = CountBelowKeyLocked(p.target_key_id);
  if (!remaining.ok()) return remaining.status();
  p.remaining = *remaining;
  p.done = p.remaining == 0;
  return p;
}

Result<KeyRotationProgress> StoreImpl::RotateKey(const KeyRotationOptions& options) {
  const int batch_size = std::max(1, options.batch_size);
  KeyRotationProgress p;
  for (int batch = 0;; ++batch) {
    // The lock is taken per batch: enrollments, events and reads go on between batches.
    std::lock_guard lock(mu_);
    const TemplateKey* target = keyring_.current();
    p.target_key_id = target->id();
    Result<Transaction> txn = Transaction::Begin(*db_);
    if (!txn.ok()) return txn.status();

    // The state lives in settings, updated in each batch's transaction: after a crash the
    // rotation continues with the rows still under older keys.
    Result<std::optional<std::string>> state = GetSettingLocked(kRotationTarget);
    if (!state.ok()) return state.status();
    if (!*state || **state != std::to_string(p.target_key_id)) {
      FACEGATE_RETURN_IF_ERROR(SetSettingLocked(kRotationTarget, std::to_string(p.target_key_id)));
      FACEGATE_RETURN_IF_ERROR(SetSettingLocked(kRotationDone, "0"));
      FACEGATE_RETURN_IF_ERROR(SetSettingLocked(kRotationStarted, std::to_string(NowMs())));
      FACEGATE_RETURN_IF_ERROR(DeleteSettingLocked(kRotationFinished));
      p.reencrypted = 0;
      spdlog::info("store: key rotation to key {} started", p.target_key_id);
    } else {
      Result<std::optional<std::string>> done = GetSettingLocked(kRotationDone);
      if (!done.ok()) return done.status();
      p.reencrypted = *done ? std::stoll(**done) : 0;
    }

    if (options.max_batches >= 0 && batch >= options.max_batches) {
      Result<int64_t> remaining = CountBelowKeyLocked(p.target_key_id);
      if (!remaining.ok()) return remaining.status();
      p.remaining = *remaining;
      p.done = p.remaining == 0;
      FACEGATE_RETURN_IF_ERROR(txn->Commit());
      return p;
    }

    Result<Stmt> select = db_->Prepare(
        "SELECT template_id, user_id, key_id, model_version, nonce, ciphertext, tag "
        "FROM face_templates WHERE key_id < ? LIMIT ?");
    if (!select.ok()) return select.status();
    select->Bind(1, static_cast<int64_t>(p.target_key_id)).Bind(2, batch_size);
    struct Row {
      int64_t id;
      int64_t user_id;
      std::string model_version;
      SealedTemplate sealed;
    };
    std::vector<Row> rows;
    std::vector<float> plain;
    for (;;) {
      Result<bool> row = select->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Row r{select->Int(0), select->Int(1), std::string(select->Text(3)), {}};
      const auto old_key_id = static_cast<uint32_t>(select->Int(2));
      const TemplateKey* old_key = keyring_.Find(old_key_id);
      if (old_key == nullptr) {
        return Status::FailedPrecondition("template " + std::to_string(r.id) + " uses key " +
                                          std::to_string(old_key_id) + ", which is not loaded");
      }
      std::span<const uint8_t> ciphertext = select->Blob(5);
      plain.resize(ciphertext.size() / sizeof(float));
      FACEGATE_RETURN_IF_ERROR(
          cipher_.Open(*old_key, TemplateAad{r.id, r.user_id, old_key_id, r.model_version},
                       select->Blob(4), ciphertext, select->Blob(6), plain.data()));
      FACEGATE_RETURN_IF_ERROR(cipher_.Seal(
          *target, TemplateAad{r.id, r.user_id, target->id(), r.model_version}, plain, &r.sealed));
      rows.push_back(std::move(r));
    }
    std::fill(plain.begin(), plain.end(), 0.0f);
    select = Stmt();  // done reading before writing the same table
    // Kept photos follow once no template is left under an older key.
    if (rows.empty()) {
      Result<int64_t> photos = ReencryptPhotosLocked(*target, batch_size);
      if (!photos.ok()) return photos.status();
      if (*photos > 0) {
        p.reencrypted += *photos;
        FACEGATE_RETURN_IF_ERROR(SetSettingLocked(kRotationDone, std::to_string(p.reencrypted)));
        FACEGATE_RETURN_IF_ERROR(txn->Commit());
        continue;
      }
    }

    Result<Stmt> update = db_->Prepare(
        "UPDATE face_templates SET key_id = ?, nonce = ?, ciphertext = ?, tag = ? "
        "WHERE template_id = ?");
    if (!update.ok()) return update.status();
    for (const Row& r : rows) {
      update->Bind(1, static_cast<int64_t>(target->id()))
          .BindBlob(2, r.sealed.nonce)
          .BindBlob(3, r.sealed.ciphertext)
          .BindBlob(4, r.sealed.tag)
          .Bind(5, r.id);
      FACEGATE_RETURN_IF_ERROR(update->Run());
    }
    p.reencrypted += static_cast<int64_t>(rows.size());
    FACEGATE_RETURN_IF_ERROR(SetSettingLocked(kRotationDone, std::to_string(p.reencrypted)));

    if (rows.empty()) {
      // The integrations' secrets (a few rows) move to the target key with the last batch.
      FACEGATE_RETURN_IF_ERROR(ResealIntegrationSecretsLocked());
      // Done: keys no template uses any more are marked retired (their files can go once no
      // backup that needs them is kept).
      Result<Stmt> retire = db_->Prepare(
          "UPDATE template_keys SET retired_at_ms = ? WHERE key_id < ? AND retired_at_ms IS NULL "
          "AND NOT EXISTS (SELECT 1 FROM face_templates t WHERE t.key_id = template_keys.key_id) "
          "AND NOT EXISTS (SELECT 1 FROM face_photos p WHERE p.key_id = template_keys.key_id)");
      if (!retire.ok()) return retire.status();
      FACEGATE_RETURN_IF_ERROR(
          retire->Bind(1, NowMs()).Bind(2, static_cast<int64_t>(p.target_key_id)).Run());
      Result<std::optional<std::string>> finished = GetSettingLocked(kRotationFinished);
      if (!finished.ok()) return finished.status();
      if (!*finished) {
        FACEGATE_RETURN_IF_ERROR(SetSettingLocked(kRotationFinished, std::to_string(NowMs())));
        spdlog::info(
            "store: key rotation to key {} finished ({} templates and photos "
            "re-encrypted)",
            p.target_key_id, p.reencrypted);
      }
      FACEGATE_RETURN_IF_ERROR(txn->Commit());
      p.remaining = 0;
      p.done = true;
      return p;
    }
    FACEGATE_RETURN_IF_ERROR(txn->Commit());
  }
}

Result<int64_t> StoreImpl::ReencryptPhotosLocked(const TemplateKey& target, int batch_size) {
  Result<Stmt> select = db_->Prepare(
      "SELECT template_id, user_id, key_id, media_type, nonce, ciphertext, tag "
      "FROM face_photos WHERE key_id < ? LIMIT ?");
  if (!select.ok()) return select.status();
  select->Bind(1, static_cast<int64_t>(target.id())).Bind(2, batch_size);
  struct Row {
    int64_t template_id;
    SealedTemplate sealed;
  };
  std::vector<Row> rows;
  std::vector<uint8_t> plain;
  for (;;) {
    Result<bool> row = select->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const int64_t template_id = select->Int(0);
    const int64_t user_id = select->Int(1);
    const auto old_key_id = static_cast<uint32_t>(select->Int(2));
    const std::string media_type(select->Text(3));
    const TemplateKey* old_key = keyring_.Find(old_key_id);
    if (old_key == nullptr) {
      return Status::FailedPrecondition("the photo of template " + std::to_string(template_id) +
                                        " uses key " + std::to_string(old_key_id) +
                                        ", which is not loaded");
    }
    FACEGATE_RETURN_IF_ERROR(
        cipher_.OpenPhoto(*old_key, PhotoAad{template_id, user_id, old_key_id, media_type},
                          select->Blob(4), select->Blob(5), select->Blob(6), &plain));
    Row r{template_id, {}};
    Status sealed = cipher_.SealPhoto(
        target, PhotoAad{template_id, user_id, target.id(), media_type}, plain, &r.sealed);
    OPENSSL_cleanse(plain.data(), plain.size());
    FACEGATE_RETURN_IF_ERROR(sealed);
    rows.push_back(std::move(r));
  }
  select = Stmt();
  Result<Stmt> update = db_->Prepare(
      "UPDATE face_photos SET key_id = ?, nonce = ?, ciphertext = ?, tag = ? "
      "WHERE template_id = ?");
  if (!update.ok()) return update.status();
  for (const Row& r : rows) {
    update->Bind(1, static_cast<int64_t>(target.id()))
        .BindBlob(2, r.sealed.nonce)
        .BindBlob(3, r.sealed.ciphertext)
        .BindBlob(4, r.sealed.tag)
        .Bind(5, r.template_id);
    FACEGATE_RETURN_IF_ERROR(update->Run());
  }
  return static_cast<int64_t>(rows.size());
}

// ---------------------------------------------------------------- doors, devices

Result<int64_t> StoreImpl::UpsertDoor(const Door& d) {
  if (d.external_id.empty()) return Status::InvalidArgument("door: external_id is empty");
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO doors (external_id, name, settings_json, source, created_at_ms, "
      "updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5) "
      "ON CONFLICT (external_id) DO UPDATE SET name = excluded.name, "
      "settings_json = excluded.settings_json, source = excluded.source, "
      "updated_at_ms = excluded.updated_at_ms RETURNING door_id");
  if (!s.ok()) return s.status();
  s->Bind(1, d.external_id)
      .Bind(2, d.name)
      .Bind(3, d.settings_json)
      .Bind(4, RecordSourceName(d.source))
      .Bind(5, NowMs());
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Internal("upsert of door " + d.external_id + " returned no id");
  int64_t id = s->Int(0);
  FACEGATE_RETURN_IF_ERROR(s->Run());
  return id;
}

Result<std::optional<Door>> StoreImpl::FindDoorByExternalId(std::string_view external_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "SELECT door_id, external_id, name, settings_json, source FROM doors WHERE external_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, external_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Door>();
  Door d;
  d.id = s->Int(0);
  d.external_id = s->Text(1);
  d.name = s->Text(2);
  d.settings_json = s->Text(3);
  d.source = ParseRecordSource(s->Text(4));
  return std::optional<Door>(std::move(d));
}

Result<Door> StoreImpl::GetDoor(int64_t door_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "SELECT door_id, external_id, name, settings_json, source FROM doors WHERE door_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, door_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no door with id " + std::to_string(door_id));
  Door d;
  d.id = s->Int(0);
  d.external_id = s->Text(1);
  d.name = s->Text(2);
  d.settings_json = s->Text(3);
  d.source = ParseRecordSource(s->Text(4));
  return d;
}

Result<int64_t> StoreImpl::AddDevice(const NewDevice& d) {
  if (d.name.empty()) return Status::InvalidArgument("device: name is empty");
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO devices (name, door_id, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?3)");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, d.name).Bind(2, d.door_id).Bind(3, NowMs()).Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("a device named '" + d.name + "' exists");
  }
  if (st.code() == StatusCode::kInvalidArgument && d.door_id) {
    return Status::NotFound("device: no door with id " + std::to_string(*d.door_id));
  }
  FACEGATE_RETURN_IF_ERROR(st);
  return db_->LastInsertRowId();
}

// ---------------------------------------------------------------- admin tokens

Result<int64_t> StoreImpl::CreateAdminToken(const NewAdminToken& t) {
  if (t.name.empty()) return Status::InvalidArgument("admin token: name is empty");
  if (t.role != "admin" && t.role != "operator" && t.role != "viewer") {
    return Status::InvalidArgument("admin token: role must be admin, operator or viewer, not '" +
                                   t.role + "'");
  }
  if (t.token_sha256.size() != 32) {
    return Status::InvalidArgument("admin token: the hash must be 32 bytes of SHA-256");
  }
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO admin_tokens (name, token_hash, role, created_at_ms, created_by) "
      "VALUES (?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  std::span<const uint8_t> hash(reinterpret_cast<const uint8_t*>(t.token_sha256.data()),
                                t.token_sha256.size());
  Status st = s->Bind(1, t.name)
                  .BindBlob(2, hash)
                  .Bind(3, t.role)
                  .Bind(4, NowMs())
                  .Bind(5, t.created_by)
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("an active admin token named '" + t.name + "' exists");
  }
  FACEGATE_RETURN_IF_ERROR(st);
  return db_->LastInsertRowId();
}

Result<int64_t> StoreImpl::CountActiveAdminTokens() {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT count(*) FROM admin_tokens WHERE revoked_at_ms IS NULL");
  if (!s.ok()) return s.status();
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  return s->Int(0);
}

// ---------------------------------------------------------------- events, outbox

Result<RecordedEvent> StoreImpl::InsertEventLocked(const AccessEvent& e,
                                                   std::span<const OutboxMessage> outbox) {
  if (!e.request_id.empty() && e.device_id) {
    Result<Stmt> find =
        db_->Prepare("SELECT event_id FROM events WHERE device_id = ? AND request_id = ?");
    if (!find.ok()) return find.status();
    find->Bind(1, *e.device_id).Bind(2, e.request_id);
    Result<bool> row = find->Step();
    if (!row.ok()) return row.status();
    if (*row) return RecordedEvent{find->Int(0), true};
  }
  Result<Stmt> insert = db_->Prepare(
      "INSERT INTO events (occurred_at_ms, device_id, door_id, user_id, user_external_id, "
      "decision, reason, distance, latency_ms, request_id, is_repeat, details_json) "
      "VALUES (?1, ?2, ?3, ?4, (SELECT external_id FROM users WHERE user_id = ?4), ?5, ?6, ?7, "
      "?8, ?9, ?10, ?11)");
  if (!insert.ok()) return insert.status();
  insert->Bind(1, ToMs(e.time))
      .Bind(2, e.device_id)
      .Bind(3, e.door_id)
      .Bind(4, e.user_id)
      .Bind(5, DecisionName(e.decision))
      .Bind(6, e.reason);
  if (e.distance) {
    insert->Bind(7, *e.distance);
  } else {
    insert->BindNull(7);
  }
  insert->Bind(8, e.latency_ms);
  if (e.request_id.empty()) {
    insert->BindNull(9);
  } else {
    insert->Bind(9, e.request_id);
  }
  insert->Bind(10, e.repeat ? 1 : 0).Bind(11, e.details_json);
  Status s = insert->Run();
  if (s.code() == StatusCode::kInvalidArgument) {
    return Status::InvalidArgument("event: " + s.message() +
                                   " (unknown device, door or user id, or bad details_json?)");
  }
  FACEGATE_RETURN_IF_ERROR(s);
  RecordedEvent recorded{db_->LastInsertRowId(), false};

  Result<Stmt> add = db_->Prepare(
      "INSERT INTO outbox (destination, topic, payload, event_id, created_at_ms, "
      "next_try_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)");
  if (!add.ok()) return add.status();
  const int64_t now = NowMs();
  for (const OutboxMessage& m : outbox) {
    if (m.destination.empty()) return Status::InvalidArgument("outbox: empty destination");
    FACEGATE_RETURN_IF_ERROR(add->Bind(1, m.destination)
                                 .Bind(2, m.topic)
                                 .Bind(3, m.payload)
                                 .Bind(4, recorded.event_id)
                                 .Bind(5, now)
                                 .Run());
  }
  return recorded;
}

void StoreImpl::WriteEventBatch(const std::vector<EventWriter*>& batch) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) {
    for (EventWriter* w : batch) w->result = txn.status();
    return;
  }
  for (EventWriter* w : batch) {
    // A savepoint per event: one bad event fails alone, the others still commit.
    Status s = db_->Exec("SAVEPOINT event");
    if (s.ok()) {
      w->result = InsertEventLocked(*w->event, w->outbox);
      if (!w->result.ok()) s = db_->Exec("ROLLBACK TO event");
    }
    if (s.ok()) s = db_->Exec("RELEASE event");
    if (!s.ok()) w->result = s;
  }
  Status committed = txn->Commit();
  if (!committed.ok()) {
    for (EventWriter* w : batch) w->result = committed;
  }
}

Result<RecordedEvent> StoreImpl::RecordEvent(const AccessEvent& event,
                                             std::span<const OutboxMessage> outbox) {
  if (event.reason.empty()) return Status::InvalidArgument("event: reason is empty");
  // Group commit after leveldb's writer queue: the writer at the front of the queue writes
  // every event queued behind it (up to event_batch_max) in one transaction and wakes them.
  EventWriter w;
  w.event = &event;
  w.outbox = outbox;
  std::unique_lock lock(queue_mu_);
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) w.cv.wait(lock);
  if (w.done) return std::move(w.result);

  const size_t n = std::min(writers_.size(), static_cast<size_t>(options_.event_batch_max));
  std::vector<EventWriter*> batch(writers_.begin(), writers_.begin() + static_cast<long>(n));
  lock.unlock();
  WriteEventBatch(batch);
  lock.lock();
  for (size_t i = 0; i < n; ++i) {
    EventWriter* done = writers_.front();
    writers_.pop_front();
    if (done != &w) {
      done->done = true;
      done->cv.notify_one();
    }
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  return std::move(w.result);
}

Result<std::optional<StoredEvent>> StoreImpl::GetEvent(int64_t event_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(std::string(kEventColumns) + "WHERE event_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, event_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<StoredEvent>();
  return std::optional<StoredEvent>(ReadEventRow(*s));
}

Result<std::optional<StoredEvent>> StoreImpl::FindEventByRequest(int64_t device_id,
                                                                 std::string_view request_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare(std::string(kEventColumns) + "WHERE device_id = ? AND request_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, device_id).Bind(2, request_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<StoredEvent>();
  return std::optional<StoredEvent>(ReadEventRow(*s));
}

Result<int64_t> StoreImpl::CountEvents() {
  std::lock_guard lock(mu_);
  return db_->QueryInt("SELECT count(*) FROM events");
}

Result<std::vector<OutboxEntry>> StoreImpl::DueOutbox(std::string_view destination, WallTime now,
                                                      int limit) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "SELECT message_id, destination, topic, payload, event_id, attempts, created_at_ms, "
      "next_try_at_ms, last_error FROM outbox WHERE destination = ? AND next_try_at_ms <= ? "
      "ORDER BY next_try_at_ms, message_id LIMIT ?");
  if (!s.ok()) return s.status();
  s->Bind(1, destination).Bind(2, ToMs(now)).Bind(3, std::max(limit, 0));
  std::vector<OutboxEntry> out;
  for (;;) {
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    OutboxEntry e;
    e.id = s->Int(0);
    e.message.destination = s->Text(1);
    e.message.topic = s->Text(2);
    e.message.payload = s->Text(3);
    e.event_id = s->OptionalInt(4);
    e.attempts = static_cast<int>(s->Int(5));
    e.created_at = FromMs(s->Int(6));
    e.next_try_at = FromMs(s->Int(7));
    e.last_error = s->Text(8);
    out.push_back(std::move(e));
  }
  return out;
}

Status StoreImpl::AckOutbox(int64_t message_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("DELETE FROM outbox WHERE message_id = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, message_id).Run());
  if (db_->Changes() == 0) {
    return Status::NotFound("no outbox message with id " + std::to_string(message_id));
  }
  return Status::Ok();
}

Status StoreImpl::RetryOutboxLater(int64_t message_id, WallTime next_try_at,
                                   std::string_view error) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "UPDATE outbox SET attempts = attempts + 1, next_try_at_ms = ?, last_error = ? "
      "WHERE message_id = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, ToMs(next_try_at)).Bind(2, error).Bind(3, message_id).Run());
  if (db_->Changes() == 0) {
    return Status::NotFound("no outbox message with id " + std::to_string(message_id));
  }
  return Status::Ok();
}

Result<int64_t> StoreImpl::OutboxBacklog(std::string_view destination) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT count(*) FROM outbox WHERE destination = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, destination);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  return s->Int(0);
}

Result<int64_t> StoreImpl::TrimOutbox(std::string_view destination, int64_t keep) {
  std::lock_guard lock(mu_);
  if (keep <= 0) {
    Result<Stmt> all = db_->Prepare("DELETE FROM outbox WHERE destination = ?");
    if (!all.ok()) return all.status();
    FACEGATE_RETURN_IF_ERROR(all->Bind(1, destination).Run());
    return static_cast<int64_t>(db_->Changes());
  }
  // The newest `keep` stay: everything older than the keep-th newest goes.
  Result<Stmt> s = db_->Prepare(
      "DELETE FROM outbox WHERE destination = ?1 AND message_id < (SELECT message_id FROM "
      "outbox WHERE destination = ?1 ORDER BY message_id DESC LIMIT 1 OFFSET ?2)");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, destination).Bind(2, keep - 1).Run());
  return static_cast<int64_t>(db_->Changes());
}

// ---------------------------------------------------------------- maintenance

Status StoreImpl::Checkpoint() {
  std::lock_guard lock(mu_);
  int rc =
      sqlite3_wal_checkpoint_v2(db_->get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_->get(), rc, "WAL checkpoint");
  return Status::Ok();
}

Result<BackupInfo> StoreImpl::Backup(const std::filesystem::path& destination) {
  // A connection of its own: the copy reads one snapshot (a read transaction in WAL mode)
  // while the store's connection keeps writing.
  Result<std::unique_ptr<Connection>> source =
      Connection::Open(options_.db_file, /*read_only=*/true, /*create=*/false, options_.sqlite_vfs);
  if (!source.ok()) return source.status().WithContext("backup");
  sqlite3_busy_timeout((*source)->get(), options_.busy_timeout_ms);

  std::filesystem::path partial = destination;
  partial += ".partial";
  std::error_code ec;
  std::filesystem::remove(partial, ec);
  FACEGATE_RETURN_IF_ERROR(CreateDatabaseFile(partial));
  BackupInfo info;
  {
    Result<std::unique_ptr<Connection>> target =
        Connection::Open(partial, /*read_only=*/false, /*create=*/true, "");
    if (!target.ok()) return target.status().WithContext("backup");
    Connection& dst = **target;
    sqlite3_backup* backup = sqlite3_backup_init(dst.get(), "main", (*source)->get(), "main");
    if (backup == nullptr) return SqliteError(dst.get(), sqlite3_errcode(dst.get()), "backup");
    // All pages in one step: one consistent snapshot of the source.
    int rc = sqlite3_backup_step(backup, -1);
    int finish = sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE)
      return SqliteError(dst.get(), rc, "backup of " + options_.db_file.string());
    if (finish != SQLITE_OK) return SqliteError(dst.get(), finish, "backup");
    // A backup is one self-contained file: rollback-journal mode, no -wal beside it.
    Result<std::string> mode = dst.QueryText("PRAGMA journal_mode = DELETE");
    if (!mode.ok()) return mode.status().WithContext("backup");
    Result<std::vector<std::string>> problems = RunCheck(dst, /*full=*/true);
    if (!problems.ok()) return problems.status().WithContext("backup check");
    if (!problems->empty()) {
      return Status::Corruption("the backup " + partial.string() +
                                " failed its integrity check: " + JoinLines(*problems));
    }
    Result<BackupInfo> described = DescribeDatabase(dst, partial);
    if (!described.ok()) return described.status();
    info = std::move(*described);
  }
  source->reset();
  FACEGATE_RETURN_IF_ERROR(FsyncPath(partial, false));
  std::filesystem::rename(partial, destination, ec);
  if (ec) {
    return Status::IOError("cannot rename " + partial.string() + " to " + destination.string() +
                           ": " + ec.message());
  }
  FACEGATE_RETURN_IF_ERROR(FsyncPath(ParentOf(destination), true));
  info.file = destination.string();
  spdlog::info("store: backup written to {} ({} bytes, {} users, {} templates, keys needed: {})",
               info.file, info.bytes, info.users, info.templates, info.key_ids.size());
  return info;
}

}  // namespace internal

// ---------------------------------------------------------------- Open, RestoreBackup

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, const Clock& clock) {
  if (options.db_file.empty()) return Status::InvalidArgument("store: no database file given");
  if (options.key_dir.empty()) return Status::InvalidArgument("store: no key directory given");
  Result<Keyring> keyring = Keyring::Load(options.key_dir);
  if (!keyring.ok()) return keyring.status();
  if (keyring->empty()) {
    return Status::FailedPrecondition(
        "no template key in " + options.key_dir.string() +
        ": run facegated --init to create one, or put back the key files that belong to this "
        "database");
  }
  std::error_code ec;
  if (!std::filesystem::exists(options.db_file, ec)) {
    if (!options.create_if_missing) {
      return Status::NotFound("the database " + options.db_file.string() + " does not exist");
    }
    FACEGATE_RETURN_IF_ERROR(internal::CreateDatabaseFile(options.db_file));
  }
  Result<std::unique_ptr<internal::Connection>> db = internal::Connection::Open(
      options.db_file, /*read_only=*/false, /*create=*/false, options.sqlite_vfs);
  if (!db.ok()) return db.status();
  auto store =
      std::make_unique<internal::StoreImpl>(options, clock, std::move(*db), std::move(*keyring));
  FACEGATE_RETURN_IF_ERROR(store->Initialize());
  return std::unique_ptr<Store>(std::move(store));
}

Result<BackupInfo> RestoreBackup(const std::filesystem::path& backup_file,
                                 const std::filesystem::path& db_file) {
  using internal::Connection;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(backup_file, ec)) {
    return Status::NotFound("the backup " + backup_file.string() + " does not exist");
  }
  BackupInfo info;
  {
    Result<std::unique_ptr<Connection>> src =
        Connection::Open(backup_file, /*read_only=*/true, /*create=*/false, "");
    if (!src.ok()) return src.status();
    Result<std::vector<std::string>> problems = internal::RunCheck(**src, /*full=*/true);
    if (!problems.ok()) return problems.status().WithContext("the backup " + backup_file.string());
    if (!problems->empty()) {
      return Status::Corruption("the backup " + backup_file.string() +
                                " failed its integrity check: " + internal::JoinLines(*problems));
    }
    Result<BackupInfo> described = internal::DescribeDatabase(**src, backup_file);
    if (!described.ok()) return described.status();
    info = std::move(*described);
  }

  std::filesystem::path partial = db_file;
  partial += ".restore-partial";
  std::filesystem::remove(partial, ec);
  std::filesystem::copy_file(backup_file, partial, ec);
  if (ec) return Status::IOError("cannot copy " + backup_file.string() + ": " + ec.message());
  std::filesystem::permissions(
      partial, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  FACEGATE_RETURN_IF_ERROR(internal::FsyncPath(partial, false));

  // Keep whatever was there: the current database with its -wal and -shm moves aside.
  const std::string suffix =
      ".before-restore-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
  for (const char* extra : {"", "-wal", "-shm"}) {
    std::filesystem::path file = db_file;
    file += extra;
    if (!std::filesystem::exists(file, ec)) continue;
    std::filesystem::path aside = db_file;
    aside += suffix;
    aside += extra;
    std::filesystem::rename(file, aside, ec);
    if (ec) return Status::IOError("cannot move " + file.string() + " aside: " + ec.message());
  }
  std::filesystem::rename(partial, db_file, ec);
  if (ec) return Status::IOError("cannot install " + db_file.string() + ": " + ec.message());
  FACEGATE_RETURN_IF_ERROR(internal::FsyncPath(internal::ParentOf(db_file), true));
  info.file = db_file.string();
  spdlog::info("store: restored {} from {} ({} users, {} templates)", db_file.string(),
               backup_file.string(), info.users, info.templates);
  return info;
}

}  // namespace facegate::store
