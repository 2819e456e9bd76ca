// The Salto Space sync: read what Space owns (doors, time-zone tables, groups, users with
// their permissions and memberships) through a ship::Client and make the store's
// ship-owned records exactly that, in one transaction (Store::ApplyShipSync). A read that
// fails half-way applies nothing: the store keeps the last complete sync.
// Thread-safety: RunFullSync may run beside anything else; two syncs at once are the
// caller's to avoid (the daemon runs one at a time).
#pragma once

#include <chrono>
#include <string>

#include "facegate/core/clock.h"
#include "facegate/core/status.h"
#include "facegate/ship/client.h"
#include "facegate/store/store.h"

namespace facegate::ship {

struct SyncResult {
  store::ShipSyncReport report;
  int users_read = 0, doors_read = 0, groups_read = 0, timezone_tables_read = 0;
  std::chrono::milliseconds read_time{0}, apply_time{0};
};

// Space's dates are the Space server's local time; Facegate assumes it shares the host's
// time zone (both sit on the site's network) and converts with the host's rules.
Clock::WallTime FromSpaceLocalTime(const LocalDateTime& t);

// The store's form of what was read.
store::ShipSyncData ToSyncData(const std::vector<SpaceDoor>& doors,
                               const std::vector<SpaceTimezoneTable>& timezone_tables,
                               const std::vector<SpaceGroup>& groups,
                               const std::vector<SpaceUser>& users);

Result<SyncResult> RunFullSync(Client& client, store::Store& store, store::RemovedShipUser removed,
                               const Clock& clock);

}  // namespace facegate::ship
