// Value types the Store reads and writes. Times are wall-clock instants (Clock::Now());
// the database keeps them as Unix milliseconds (UTC).
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/clock.h"

namespace facegate::store {

using WallTime = Clock::WallTime;

// Who owns a record: Facegate itself (admin, import) or the access-control system's sync.
// Records owned by a sync are read-only in the admin API.
enum class RecordSource { kLocal, kShip };
std::string_view RecordSourceName(RecordSource source);

struct User {
  int64_t id = 0;           // internal id: assigned by the store, never reused
  std::string external_id;  // the access-control system's ExtUserID, or an admin-chosen id
  std::string first_name;
  std::string last_name;
  bool active = true;
  bool banned = false;
  std::optional<WallTime> valid_from;   // none: valid since ever
  std::optional<WallTime> valid_until;  // none: valid for ever
  RecordSource source = RecordSource::kLocal;
  WallTime created_at{};  // set by the store
  WallTime updated_at{};  // set by the store
};

// How a face template came to be.
enum class TemplateSource {
  kImport,      // bulk import (facegatectl import)
  kEnrollment,  // self-enrollment by the person, after consent
  kAdmin,       // enrolled by an operator (admin API, local command)
};
std::string_view TemplateSourceName(TemplateSource source);

struct NewTemplate {
  int64_t user_id = 0;
  TemplateSource source = TemplateSource::kAdmin;
  std::string model_version;        // the embedding model that produced it, e.g. "dlib-resnet-v1"
  std::span<const float> values;    // the embedding; the caller keeps it alive during the call
  std::string quality_json = "{}";  // the quality gate's values, a JSON object
};

// A template's metadata; reading it never decrypts anything.
struct TemplateInfo {
  int64_t id = 0;  // random 63-bit id, chosen by the store before encryption
  int64_t user_id = 0;
  std::string user_external_id;
  TemplateSource source = TemplateSource::kAdmin;
  std::string model_version;
  std::string quality_json;
  WallTime created_at{};
  uint32_t key_id = 0;
  int dimension = 0;
};

// Every template of one model version, decrypted, in one row-major matrix: what the 1:N
// index is built from at start-up.
struct TemplateMatrix {
  std::string model_version;
  int dimension = 0;
  std::vector<int64_t> template_ids;
  std::vector<int64_t> user_ids;  // user_ids[i] owns template_ids[i]
  std::vector<float> values;      // template i is values[i * dimension, (i + 1) * dimension)

  size_t size() const { return template_ids.size(); }
  std::span<const float> row(size_t i) const {
    return {values.data() + i * static_cast<size_t>(dimension), static_cast<size_t>(dimension)};
  }
};

struct ErasureReport {
  int templates_deleted = 0;
  bool user_deleted = false;
  // The WAL was checkpointed and truncated, so no erased bytes remain in the -wal file.
  // False when another connection's reader kept the checkpoint from finishing; the bytes
  // then go at the next checkpoint (secure_delete has zeroed them in the database pages).
  bool wal_truncated = false;
};

struct Door {
  int64_t id = 0;
  std::string external_id;  // the access-control system's ExtDoorID
  std::string name;
  std::string settings_json = "{}";  // per-door policy (fail-open, PAD threshold, ...)
  RecordSource source = RecordSource::kLocal;
};

// An admin API bearer token. Only its SHA-256 is stored; the token is shown once.
struct NewAdminToken {
  std::string name;
  std::string role;          // admin, operator, viewer
  std::string token_sha256;  // 32 raw bytes
  std::string created_by;    // e.g. "facegated --init"
};

struct NewDevice {
  std::string name;
  std::optional<int64_t> door_id;
};

enum class Decision { kGrant, kDeny };
std::string_view DecisionName(Decision decision);

// One access decision, as recorded.
struct AccessEvent {
  WallTime time{};
  std::optional<int64_t> device_id;
  std::optional<int64_t> door_id;
  std::optional<int64_t> user_id;  // none: unknown face (or no face)
  Decision decision = Decision::kDeny;
  std::string reason;  // granted, unknown_face, no_access_to_door, ...
  std::optional<double> distance;
  double latency_ms = 0;
  std::string request_id;           // the terminal's request id; "" when it sent none
  bool repeat = false;              // a repeat within the window that reused the previous decision
  std::string details_json = "{}";  // stage timings, PAD result, door-opening outcome, ...
};

struct StoredEvent {
  int64_t id = 0;
  AccessEvent event;
  std::string user_external_id;  // as it was when the event was written
};

// A message for an integration, written in the same transaction as its event.
struct OutboxMessage {
  std::string destination;  // "connect", "ship", ...
  std::string topic;        // destination-specific routing, may be empty
  std::string payload;      // the publisher adds the event id (carried in the row) itself
};

struct OutboxEntry {
  int64_t id = 0;
  OutboxMessage message;
  std::optional<int64_t> event_id;
  int attempts = 0;
  WallTime created_at{};
  WallTime next_try_at{};
  std::string last_error;
};

struct RecordedEvent {
  int64_t event_id = 0;
  // The device had already sent this request id: nothing was written, event_id is the
  // earlier event's (answer the terminal with that decision).
  bool duplicate = false;
};

struct KeyRotationProgress {
  uint32_t target_key_id = 0;
  int64_t reencrypted = 0;  // templates re-encrypted by this rotation so far
  int64_t remaining = 0;    // templates still under another key
  bool done = false;
};

struct BackupInfo {
  std::string file;
  int64_t bytes = 0;
  int schema_version = 0;
  int64_t users = 0;
  int64_t templates = 0;
  std::vector<uint32_t> key_ids;  // keys the backup's templates need: keep them with it
};

}  // namespace facegate::store
