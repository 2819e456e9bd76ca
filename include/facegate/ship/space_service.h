// SpaceService: the daemon's Salto Space integration (docs/ship.md). A thread of its own
// follows the `space` integration's settings in the store (the admin API changes them at
// run time), probes Space with GetInfo, runs a full sync at start-up, every
// `sync_interval_s` and on demand, and keeps the integration's status in the store, the
// metrics and the log:
//   no_status     not enabled, or the settings are incomplete or wrong (last_error says which)
//   connected     the last GetInfo (or sync) succeeded
//   unauthorized  Space refused the key (HTTP 401/403)
//   disconnected  Space could not be reached or answered something that is not SHIP
// Every status change is logged once. A sync that fails keeps the store as the last complete
// sync left it.
//
// As the device API's GrantSender it opens a granted door with OnlineDoor.Open, on a pool of
// its own, within min(the decision's budget, door_open_timeout_ms): only doors the sync owns
// (Space knows them), and not those whose settings say "open_via_space": false; a door's
// "acs_fail_open": true asks for a grant even when the opening fails. An opening is sent
// once, never retried, never queued for later.
//
// Reconciliation: every opening Space confirmed is expected in Space's audit trail. The
// service reads the trail from where it last stopped (the cursor is kept in the store, per
// Space URL), matches entries to openings by door and time, and counts an opening with no
// entry after `audit_grace` as unconfirmed (a metric and a warning: the door may not have
// opened although Space said so, or Space's audit trail misses it). Openings waiting for
// their entry are kept in memory (at most 10,000): a restart forgets them.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "facegate/access/grant_sender.h"
#include "facegate/core/clock.h"
#include "facegate/core/metrics.h"
#include "facegate/core/status.h"
#include "facegate/ship/client.h"
#include "facegate/ship/sync.h"
#include "facegate/ship/transport.h"
#include "facegate/store/store.h"

namespace facegate::ship {

// The `space` integration's settings (a JSON object), checked.
struct SpaceSettings {
  TransportOptions transport;
  ClientOptions client;
  std::chrono::seconds sync_interval{300};
  std::chrono::seconds probe_interval{30};
  store::RemovedShipUser removed_users = store::RemovedShipUser::kErase;
  std::chrono::milliseconds door_open_timeout{1000};
  // Reconciliation with Space's audit trail (SaltoDBAuditTrail.Read): how often it is read,
  // how far apart an opening and its audit entry may be, and how long an opening may go
  // without one before it counts as unconfirmed. 0 s interval: no reconciliation.
  std::chrono::seconds audit_interval{60};
  std::chrono::seconds audit_match_window{120};
  std::chrono::seconds audit_grace{300};
};

// kInvalidArgument naming every bad key ("settings.url: ...; settings.pin_sha256: ...").
// `url` is https://HOST[:PORT][/PATH], stp://HOST[:PORT] (plain TCP) or stp+tls://HOST[:PORT];
// the port defaults to 8100.
Result<SpaceSettings> ParseSpaceSettings(std::string_view settings_json);

struct SpaceServiceOptions {
  std::chrono::milliseconds poll{1000};  // how often the settings are looked at
};

class SpaceService final : public access::GrantSender {
 public:
  // `on_synced` runs after every sync that changed the store (the daemon rebuilds its
  // access snapshot). Starts the thread.
  SpaceService(store::Store& store, const Clock& clock, MetricsRegistry* metrics,
               std::function<void()> on_synced, SpaceServiceOptions options = {});
  ~SpaceService() override;  // Stop()
  SpaceService(const SpaceService&) = delete;
  SpaceService& operator=(const SpaceService&) = delete;

  void OnGrant(const store::Door& door, int64_t user_id, std::chrono::milliseconds budget,
               std::function<void(access::GrantOutcome)> done) override;

  // Asks for a full sync as soon as possible (the admin's "sync now").
  void RequestSync();
  void Stop();

  struct State {
    store::IntegrationStatus status = store::IntegrationStatus::kNoStatus;
    std::string last_error;
    std::optional<Clock::WallTime> last_sync;
    std::optional<SyncResult> last_sync_result;
    int syncs = 0, failed_syncs = 0;
    // Reconciliation with the audit trail.
    int64_t audit_cursor = 0;  // the next EventID to read
    int64_t audit_entries_read = 0, openings_confirmed = 0, openings_unconfirmed = 0;
    int64_t openings_awaiting_audit = 0;
    std::optional<Clock::WallTime> last_audit_read;
  };
  State state() const;
  // The state as a JSON object for GET /api/v1/integrations/space ("details"): syncs,
  // failed_syncs, last_sync_at, last_sync (what it read and changed, and how long it took),
  // audit (the reconciliation's counts).
  std::string DetailsJson() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace facegate::ship
