// Building an AccessSnapshot from the store's access model: the one part of src/access that
// knows the store. The decision code (decision.h, snapshot.h) does not include it.
//
// Thread-safety: BuildSnapshot is a pure function; LoadSnapshot calls the store (blocking,
// disk I/O: not on network I/O threads) and is as thread-safe as the store.
#pragma once

#include <memory>

#include "facegate/access/snapshot.h"
#include "facegate/core/status.h"
#include "facegate/store/records.h"
#include "facegate/store/store.h"

namespace facegate::access {

// Copies what decisions need (no names) into a snapshot. InvalidArgument when the data is
// inconsistent (which one read transaction of the store never gives).
Result<std::shared_ptr<const AccessSnapshot>> BuildSnapshot(const store::AccessModelData& data);

// store.LoadAccessSnapshotData() then BuildSnapshot.
Result<std::shared_ptr<const AccessSnapshot>> LoadSnapshot(store::Store& store);

}  // namespace facegate::access
