// Devices of StoreImpl: door terminals, the certificates issued to them, their one-time
// commissioning codes and the commands queued for them.
//
// These are StoreImpl members defined apart from store_impl.cc; they use the same mutex
// (mu_), connection and Transaction/Stmt helpers. Helpers private to this file take the
// Connection explicitly so that store_impl.h needs no private declarations for them.
//
// The devices row caches the device's latest certificate (cert_serial, cert_not_after_ms,
// revoked) so that the lookup on every mTLS request is one indexed join; device_certificates
// keeps every certificate ever issued, so a replaced or revoked one is recognised as such
// rather than reported as unknown.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>

#include "facegate/store/commissioning.h"
#include "store/rows.h"
#include "store/sqlite.h"
#include "store/store_impl.h"

namespace facegate::store {

std::string_view DeviceStatusName(DeviceStatus status) {
  switch (status) {
    case DeviceStatus::kCreated:
      return "created";
    case DeviceStatus::kCommissioned:
      return "commissioned";
    case DeviceStatus::kDisabled:
      return "disabled";
    case DeviceStatus::kDecommissioned:
      return "decommissioned";
  }
  return "created";
}

std::optional<DeviceStatus> ParseDeviceStatus(std::string_view name) {
  for (DeviceStatus s : {DeviceStatus::kCreated, DeviceStatus::kCommissioned,
                         DeviceStatus::kDisabled, DeviceStatus::kDecommissioned}) {
    if (DeviceStatusName(s) == name) return s;
  }
  return std::nullopt;
}

namespace internal {
namespace {

// Serials are hex of at most 20 octets (RFC 5280); a little slack for leading zeros.
constexpr size_t kMaxSerialHexLength = 48;
constexpr size_t kMaxCommandNameLength = 64;

// Upper-case, so that a serial printed by any tool (BN_bn2hex, openssl x509 -serial, a
// lower-case log line) finds the same row. Empty when it is not hex.
std::string NormalizeSerial(std::string_view serial) {
  if (serial.empty() || serial.size() > kMaxSerialHexLength) return {};
  std::string out;
  for (char c : serial) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string DeviceLabel(int64_t device_id) { return "device " + std::to_string(device_id); }

Status NoDevice(int64_t device_id) {
  return Status::NotFound("no device with id " + std::to_string(device_id));
}

// The devices columns ReadDevice reads, in order, with the table alias "d".
constexpr std::string_view kDeviceColumns =
    "d.device_id, d.name, d.door_id, d.status, d.online, d.last_seen_at_ms, d.cert_serial, "
    "d.cert_not_after_ms, d.revoked, d.firmware, d.settings_json, d.created_at_ms, "
    "d.updated_at_ms";

Result<Device> ReadDevice(const Stmt& s, int first = 0) {
  Device d;
  d.id = s.Int(first + 0);
  d.name = s.Text(first + 1);
  d.door_id = s.OptionalInt(first + 2);
  std::optional<DeviceStatus> status = ParseDeviceStatus(s.Text(first + 3));
  if (!status) {
    return Status::Corruption(DeviceLabel(d.id) + " has an unknown status '" +
                              std::string(s.Text(first + 3)) + "'");
  }
  d.status = *status;
  d.online = s.Int(first + 4) != 0;
  d.last_seen_at = FromMs(s.OptionalInt(first + 5));
  d.cert_serial = OptionalText(s, first + 6);
  d.cert_not_after = FromMs(s.OptionalInt(first + 7));
  d.cert_revoked = s.Int(first + 8) != 0;
  d.firmware = s.Text(first + 9);
  d.settings_json = s.Text(first + 10);
  d.created_at = FromMs(s.Int(first + 11));
  d.updated_at = FromMs(s.Int(first + 12));
  return d;
}

// One device by a WHERE clause on "d" with one parameter; NotFound with `missing`.
template <typename Key>
Result<Device> QueryOneDevice(Connection& db, std::string_view where, const Key& key,
                              const std::string& missing) {
  Result<Stmt> s = db.Prepare("SELECT " + std::string(kDeviceColumns) + " FROM devices d WHERE " +
                              std::string(where));
  if (!s.ok()) return s.status();
  s->Bind(1, key);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound(missing);
  return ReadDevice(*s);
}

Result<Device> DeviceById(Connection& db, int64_t device_id) {
  return QueryOneDevice(db, "d.device_id = ?", device_id,
                        "no device with id " + std::to_string(device_id));
}

Result<bool> DeviceExists(Connection& db, int64_t device_id) {
  Result<Stmt> s = db.Prepare("SELECT 1 FROM devices WHERE device_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, device_id);
  return s->Step();
}

Result<bool> IsValidJson(Connection& db, std::string_view json) {
  Result<Stmt> s = db.Prepare("SELECT json_valid(?)");
  if (!s.ok()) return s.status();
  s->Bind(1, json);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  return *row && s->Int(0) == 1;
}

// Columns: serial, device_id, device name, issued_at_ms, not_after_ms, revoked_at_ms.
constexpr std::string_view kCertificateColumns =
    "c.serial, c.device_id, d.name, c.issued_at_ms, c.not_after_ms, c.revoked_at_ms";

DeviceCertificate ReadCertificate(const Stmt& s, int first = 0) {
  DeviceCertificate c;
  c.serial_hex = s.Text(first + 0);
  c.device_id = s.Int(first + 1);
  c.device_name = s.Text(first + 2);
  c.issued_at = FromMs(s.Int(first + 3));
  c.not_after = FromMs(s.Int(first + 4));
  c.revoked_at = FromMs(s.OptionalInt(first + 5));
  return c;
}

Result<std::vector<DeviceCertificate>> ReadCertificates(Stmt& s) {
  std::vector<DeviceCertificate> out;
  for (;;) {
    Result<bool> row = s.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(ReadCertificate(s));
  }
  return out;
}

constexpr std::string_view kCommandColumns =
    "command_id, device_id, command, payload_json, origin, created_at_ms, expires_at_ms, "
    "delivered_at_ms, completed_at_ms, result_json";

DeviceCommand ReadCommand(const Stmt& s) {
  DeviceCommand c;
  c.id = s.Int(0);
  c.device_id = s.Int(1);
  c.command = s.Text(2);
  c.payload_json = s.Text(3);
  c.origin = s.Text(4);
  c.created_at = FromMs(s.Int(5));
  c.expires_at = FromMs(s.OptionalInt(6));
  c.delivered_at = FromMs(s.OptionalInt(7));
  c.completed_at = FromMs(s.OptionalInt(8));
  c.result_json = OptionalText(s, 9);
  return c;
}

}  // namespace

// ---------------------------------------------------------------- devices

Result<Device> StoreImpl::GetDevice(int64_t device_id) {
  std::lock_guard lock(mu_);
  return DeviceById(*db_, device_id);
}

Result<Device> StoreImpl::FindDeviceByName(std::string_view name) {
  std::lock_guard lock(mu_);
  return QueryOneDevice(*db_, "d.name = ?", name, "no device named '" + std::string(name) + "'");
}

Result<DeviceByCertificate> StoreImpl::FindDeviceByCertificateSerial(std::string_view serial_hex) {
  const std::string serial = NormalizeSerial(serial_hex);
  const std::string unknown = "unknown device certificate serial " + std::string(serial_hex);
  if (serial.empty()) return Status::NotFound(unknown);
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kCertificateColumns) + ", " +
                                std::string(kDeviceColumns) +
                                " FROM device_certificates c JOIN devices d "
                                "ON d.device_id = c.device_id WHERE c.serial = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, serial);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound(unknown);
  DeviceByCertificate out;
  out.certificate = ReadCertificate(*s);
  Result<Device> device = ReadDevice(*s, 6);
  if (!device.ok()) return device.status();
  out.device = std::move(*device);
  if (out.device.cert_serial != serial) {
    out.state = DeviceCertificateState::kReplaced;
  } else if (out.certificate.revoked_at || out.device.cert_revoked) {
    out.state = DeviceCertificateState::kRevoked;
  } else {
    out.state = DeviceCertificateState::kCurrent;
  }
  return out;
}

Result<std::vector<Device>> StoreImpl::ListDevices(int64_t after_id, int limit) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kDeviceColumns) +
                                " FROM devices d WHERE d.device_id > ? ORDER BY d.device_id "
                                "LIMIT ?");
  if (!s.ok()) return s.status();
  s->Bind(1, after_id).Bind(2, std::max(limit, 0));
  std::vector<Device> out;
  for (;;) {
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Result<Device> d = ReadDevice(*s);
    if (!d.ok()) return d.status();
    out.push_back(std::move(*d));
  }
  return out;
}

Status StoreImpl::SetDeviceStatus(int64_t device_id, DeviceStatus status) {
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare("UPDATE devices SET status = ?, updated_at_ms = ? WHERE device_id = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(
      s->Bind(1, DeviceStatusName(status)).Bind(2, NowMs()).Bind(3, device_id).Run());
  if (db_->Changes() == 0) return NoDevice(device_id);
  return Status::Ok();
}

Status StoreImpl::SetDeviceDoor(int64_t device_id, std::optional<int64_t> door_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare("UPDATE devices SET door_id = ?, updated_at_ms = ? WHERE device_id = ?");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, door_id).Bind(2, NowMs()).Bind(3, device_id).Run();
  // The only constraint an existing row can break here is the door's foreign key.
  if (st.code() == StatusCode::kInvalidArgument && door_id) {
    return Status::NotFound("no door with id " + std::to_string(*door_id));
  }
  FACEGATE_RETURN_IF_ERROR(st);
  if (db_->Changes() == 0) return NoDevice(device_id);
  return Status::Ok();
}

Result<bool> StoreImpl::RecordDeviceHeartbeat(int64_t device_id, WallTime seen_at,
                                              std::string_view firmware) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  bool was_online = false;
  {
    Result<Stmt> s = db_->Prepare("SELECT online FROM devices WHERE device_id = ?");
    if (!s.ok()) return s.status();
    s->Bind(1, device_id);
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NoDevice(device_id);
    was_online = s->Int(0) != 0;
  }
  // max(): heartbeats that arrive out of order (retries, parallel connections) never move
  // last_seen back.
  Result<Stmt> u = db_->Prepare(
      "UPDATE devices SET online = 1, firmware = ?1, "
      "last_seen_at_ms = max(coalesce(last_seen_at_ms, ?2), ?2), updated_at_ms = ?3 "
      "WHERE device_id = ?4");
  if (!u.ok()) return u.status();
  FACEGATE_RETURN_IF_ERROR(
      u->Bind(1, firmware).Bind(2, ToMs(seen_at)).Bind(3, NowMs()).Bind(4, device_id).Run());
  FACEGATE_RETURN_IF_ERROR(txn->Commit());
  return !was_online;
}

Result<std::vector<int64_t>> StoreImpl::MarkDevicesOffline(WallTime not_seen_since) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "UPDATE devices SET online = 0, updated_at_ms = ?1 WHERE online = 1 AND "
      "(last_seen_at_ms IS NULL OR last_seen_at_ms < ?2) RETURNING device_id");
  if (!s.ok()) return s.status();
  s->Bind(1, NowMs()).Bind(2, ToMs(not_seen_since));
  std::vector<int64_t> ids;
  for (;;) {
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    ids.push_back(s->Int(0));
  }
  std::sort(ids.begin(), ids.end());  // RETURNING's order is unspecified
  return ids;
}

Status StoreImpl::DeleteDevice(int64_t device_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("DELETE FROM devices WHERE device_id = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, device_id).Run());
  if (db_->Changes() == 0) return NoDevice(device_id);
  return Status::Ok();
}

// ---------------------------------------------------------------- commissioning codes

Result<int64_t> StoreImpl::CreateCommissioningCode(const NewCommissioningCode& code) {
  if (code.code_hash.size() != kCommissioningCodeHashBytes) {
    return Status::InvalidArgument(
        "commissioning code: the hash must be 32 bytes of HMAC-SHA256 (HashCommissioningCode)");
  }
  std::lock_guard lock(mu_);
  const int64_t now = NowMs();
  if (ToMs(code.expires_at) <= now) {
    return Status::InvalidArgument("commissioning code: it would expire before it is created");
  }
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  Result<bool> exists = DeviceExists(*db_, code.device_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NoDevice(code.device_id);
  // Only the newest code may work: an older one may have been seen by someone it was not
  // meant for. Expiring it (rather than deleting it) keeps the history and tells a terminal
  // still holding it "expired", which sends the admin to make a new one.
  Result<Stmt> expire = db_->Prepare(
      "UPDATE commissioning_codes SET expires_at_ms = ?1 "
      "WHERE device_id = ?2 AND used_at_ms IS NULL AND expires_at_ms > ?1");
  if (!expire.ok()) return expire.status();
  FACEGATE_RETURN_IF_ERROR(expire->Bind(1, now).Bind(2, code.device_id).Run());
  Result<Stmt> insert = db_->Prepare(
      "INSERT INTO commissioning_codes (device_id, code_hash, created_at_ms, expires_at_ms) "
      "VALUES (?, ?, ?, ?)");
  if (!insert.ok()) return insert.status();
  Status st = insert->Bind(1, code.device_id)
                  .BindBlob(2, BlobOf(code.code_hash))
                  .Bind(3, now)
                  .Bind(4, ToMs(code.expires_at))
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("this commissioning code was issued before: generate a new one");
  }
  FACEGATE_RETURN_IF_ERROR(st);
  const int64_t id = db_->LastInsertRowId();
  FACEGATE_RETURN_IF_ERROR(txn->Commit());
  return id;
}

Result<RedeemedCommissioningCode> StoreImpl::RedeemCommissioningCode(std::string_view code_hash,
                                                                     WallTime now) {
  if (code_hash.size() != kCommissioningCodeHashBytes) {
    return Status::NotFound("unknown commissioning code");
  }
  std::lock_guard lock(mu_);
  // BEGIN IMMEDIATE: the check and the mark are one step even against another process
  // (facegatectl), so a code is redeemed at most once.
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  RedeemedCommissioningCode out;
  int64_t device_id = 0;
  {
    Result<Stmt> s = db_->Prepare(
        "SELECT code_id, device_id, expires_at_ms, used_at_ms FROM commissioning_codes "
        "WHERE code_hash = ?");
    if (!s.ok()) return s.status();
    s->BindBlob(1, BlobOf(code_hash));
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("unknown commissioning code");
    out.code_id = s->Int(0);
    device_id = s->Int(1);
    // Used first: a used code stays "used" after it would have expired.
    if (!s->IsNull(3)) return Status::FailedPrecondition("commissioning code already used");
    if (ToMs(now) >= s->Int(2)) return Status::FailedPrecondition("commissioning code expired");
  }
  Result<Stmt> mark = db_->Prepare(
      "UPDATE commissioning_codes SET used_at_ms = ? WHERE code_id = ? AND used_at_ms IS NULL");
  if (!mark.ok()) return mark.status();
  FACEGATE_RETURN_IF_ERROR(mark->Bind(1, ToMs(now)).Bind(2, out.code_id).Run());
  if (db_->Changes() != 1) return Status::Internal("commissioning code changed while redeemed");
  Result<Device> device = DeviceById(*db_, device_id);
  if (!device.ok()) return device.status();
  out.device = std::move(*device);
  FACEGATE_RETURN_IF_ERROR(txn->Commit());
  return out;
}

// ---------------------------------------------------------------- certificates

Result<std::optional<std::string>> StoreImpl::RecordDeviceCertificate(
    const DeviceCertificate& certificate) {
  const std::string serial = NormalizeSerial(certificate.serial_hex);
  if (serial.empty()) {
    return Status::InvalidArgument("device certificate: the serial '" + certificate.serial_hex +
                                   "' is not hex of at most " +
                                   std::to_string(kMaxSerialHexLength) + " digits");
  }
  std::lock_guard lock(mu_);
  const int64_t now = NowMs();
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();

  std::optional<std::string> replaced;
  {
    Result<Stmt> s = db_->Prepare("SELECT cert_serial, revoked FROM devices WHERE device_id = ?");
    if (!s.ok()) return s.status();
    s->Bind(1, certificate.device_id);
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NoDevice(certificate.device_id);
    if (!s->IsNull(0) && s->Int(1) == 0) replaced = std::string(s->Text(0));
  }

  Result<Stmt> insert = db_->Prepare(
      "INSERT INTO device_certificates (serial, device_id, issued_at_ms, not_after_ms) "
      "VALUES (?, ?, ?, ?)");
  if (!insert.ok()) return insert.status();
  Status st = insert->Bind(1, serial)
                  .Bind(2, certificate.device_id)
                  .Bind(3, now)
                  .Bind(4, ToMs(certificate.not_after))
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("a device certificate with serial " + serial +
                                 " is recorded already");
  }
  FACEGATE_RETURN_IF_ERROR(st);

  // Every other certificate of the device stops working now: there is one current one.
  Result<Stmt> revoke = db_->Prepare(
      "UPDATE device_certificates SET revoked_at_ms = ?1 "
      "WHERE device_id = ?2 AND serial <> ?3 AND revoked_at_ms IS NULL");
  if (!revoke.ok()) return revoke.status();
  FACEGATE_RETURN_IF_ERROR(
      revoke->Bind(1, now).Bind(2, certificate.device_id).Bind(3, serial).Run());

  // A disabled device stays disabled: getting a certificate is not an admin's consent.
  Result<Stmt> update = db_->Prepare(
      "UPDATE devices SET cert_serial = ?1, cert_not_after_ms = ?2, revoked = 0, "
      "status = CASE WHEN status = 'disabled' THEN status ELSE 'commissioned' END, "
      "updated_at_ms = ?3 WHERE device_id = ?4");
  if (!update.ok()) return update.status();
  FACEGATE_RETURN_IF_ERROR(update->Bind(1, serial)
                               .Bind(2, ToMs(certificate.not_after))
                               .Bind(3, now)
                               .Bind(4, certificate.device_id)
                               .Run());
  FACEGATE_RETURN_IF_ERROR(txn->Commit());
  return replaced;
}

Result<int> StoreImpl::RevokeDeviceCertificates(int64_t device_id) {
  std::lock_guard lock(mu_);
  const int64_t now = NowMs();
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  Result<bool> exists = DeviceExists(*db_, device_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NoDevice(device_id);
  Result<Stmt> revoke = db_->Prepare(
      "UPDATE device_certificates SET revoked_at_ms = ? "
      "WHERE device_id = ? AND revoked_at_ms IS NULL");
  if (!revoke.ok()) return revoke.status();
  FACEGATE_RETURN_IF_ERROR(revoke->Bind(1, now).Bind(2, device_id).Run());
  const int revoked = db_->Changes();
  // Offline as well: it can no longer call in, so it must not show as online until the
  // offline sweep notices.
  Result<Stmt> update = db_->Prepare(
      "UPDATE devices SET revoked = 1, status = 'decommissioned', online = 0, "
      "updated_at_ms = ? WHERE device_id = ?");
  if (!update.ok()) return update.status();
  FACEGATE_RETURN_IF_ERROR(update->Bind(1, now).Bind(2, device_id).Run());
  FACEGATE_RETURN_IF_ERROR(txn->Commit());
  return revoked;
}

Result<std::vector<DeviceCertificate>> StoreImpl::ListDeviceCertificates(int64_t device_id) {
  std::lock_guard lock(mu_);
  Result<bool> exists = DeviceExists(*db_, device_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NoDevice(device_id);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kCertificateColumns) +
                                " FROM device_certificates c JOIN devices d "
                                "ON d.device_id = c.device_id WHERE c.device_id = ? "
                                "ORDER BY c.issued_at_ms DESC, c.revoked_at_ms IS NULL DESC, "
                                "c.serial");
  if (!s.ok()) return s.status();
  s->Bind(1, device_id);
  return ReadCertificates(*s);
}

Result<std::vector<DeviceCertificate>> StoreImpl::ListCertificatesExpiringBefore(WallTime before) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kCertificateColumns) +
                                " FROM device_certificates c JOIN devices d "
                                "ON d.device_id = c.device_id "
                                "WHERE c.revoked_at_ms IS NULL AND c.not_after_ms < ? "
                                "ORDER BY c.not_after_ms, c.serial");
  if (!s.ok()) return s.status();
  s->Bind(1, ToMs(before));
  return ReadCertificates(*s);
}

// ---------------------------------------------------------------- commands

Result<int64_t> StoreImpl::QueueDeviceCommand(const NewDeviceCommand& c) {
  if (c.command.empty() || c.command.size() > kMaxCommandNameLength) {
    return Status::InvalidArgument("device command: the name must be 1 to " +
                                   std::to_string(kMaxCommandNameLength) + " characters");
  }
  std::lock_guard lock(mu_);
  const int64_t now = NowMs();
  if (c.expires_at && ToMs(*c.expires_at) <= now) {
    return Status::InvalidArgument("device command " + c.command +
                                   ": it would expire before it is queued");
  }
  Result<bool> valid = IsValidJson(*db_, c.payload_json);
  if (!valid.ok()) return valid.status();
  if (!*valid) {
    return Status::InvalidArgument("device command " + c.command + ": the payload is not JSON");
  }
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO device_commands (device_id, command, payload_json, origin, created_at_ms, "
      "expires_at_ms) VALUES (?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, c.device_id)
                  .Bind(2, c.command)
                  .Bind(3, c.payload_json)
                  .Bind(4, c.origin)
                  .Bind(5, now)
                  .Bind(6, ToMs(c.expires_at))
                  .Run();
  // The payload was checked: the constraint left is the device's foreign key.
  if (st.code() == StatusCode::kInvalidArgument) return NoDevice(c.device_id);
  FACEGATE_RETURN_IF_ERROR(st);
  return db_->LastInsertRowId();
}

Result<std::vector<DeviceCommand>> StoreImpl::TakePendingDeviceCommands(int64_t device_id,
                                                                        WallTime now, int limit) {
  std::vector<DeviceCommand> out;
  if (limit <= 0) return out;
  std::lock_guard lock(mu_);
  // One statement selects and marks, so two heartbeats racing (or a crash between a read and
  // a write) can never hand the same command out twice.
  Result<Stmt> s = db_->Prepare(
      "UPDATE device_commands SET delivered_at_ms = ?1 WHERE command_id IN ("
      "SELECT command_id FROM device_commands WHERE device_id = ?2 AND delivered_at_ms IS NULL "
      "AND (expires_at_ms IS NULL OR expires_at_ms > ?1) ORDER BY command_id LIMIT ?3) "
      "RETURNING " +
      std::string(kCommandColumns));
  if (!s.ok()) return s.status();
  s->Bind(1, ToMs(now)).Bind(2, device_id).Bind(3, limit);
  for (;;) {
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(ReadCommand(*s));
  }
  std::sort(out.begin(), out.end(),
            [](const DeviceCommand& a, const DeviceCommand& b) { return a.id < b.id; });
  return out;
}

Status StoreImpl::CompleteDeviceCommand(int64_t device_id, int64_t command_id,
                                        std::string_view result_json) {
  std::lock_guard lock(mu_);
  Result<bool> valid = IsValidJson(*db_, result_json);
  if (!valid.ok()) return valid.status();
  if (!*valid) return Status::InvalidArgument("device command result: not JSON");
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  const std::string label = "device command " + std::to_string(command_id);
  {
    // Scoped to the device: a terminal can complete only its own commands.
    Result<Stmt> s = db_->Prepare(
        "SELECT delivered_at_ms, completed_at_ms FROM device_commands "
        "WHERE command_id = ? AND device_id = ?");
    if (!s.ok()) return s.status();
    s->Bind(1, command_id).Bind(2, device_id);
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no " + label + " for " + DeviceLabel(device_id));
    if (s->IsNull(0)) return Status::FailedPrecondition(label + " has not been delivered");
    if (!s->IsNull(1)) return Status::FailedPrecondition(label + " is completed already");
  }
  Result<Stmt> u = db_->Prepare(
      "UPDATE device_commands SET completed_at_ms = ?, result_json = ? WHERE command_id = ?");
  if (!u.ok()) return u.status();
  FACEGATE_RETURN_IF_ERROR(u->Bind(1, NowMs()).Bind(2, result_json).Bind(3, command_id).Run());
  return txn->Commit();
}

Result<std::optional<DeviceCommand>> StoreImpl::GetDeviceCommand(int64_t command_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kCommandColumns) +
                                " FROM device_commands WHERE command_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, command_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<DeviceCommand>();
  return std::optional<DeviceCommand>(ReadCommand(*s));
}

}  // namespace internal
}  // namespace facegate::store
