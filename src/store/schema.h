// The database schema as an ordered list of migrations, and the code that applies them.
//
// Migration N takes a database at version N-1 to version N. A released migration is never
// edited: a change is a new migration appended to the list. Each migration runs in its own
// transaction together with its row in schema_version, so a crash leaves the database at
// N-1 or N, never in between.
// Thread-safety: functions over a Connection the caller owns.
#pragma once

#include <string_view>
#include <vector>

#include "facegate/core/clock.h"
#include "facegate/core/status.h"
#include "store/sqlite.h"

namespace facegate::store::internal {

// Facegate's SQLite application_id ("FGDB"): a file with another non-zero id is refused.
inline constexpr int32_t kApplicationId = 0x46474442;

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

const std::vector<Migration>& Migrations();
int LatestSchemaVersion();

// The version of the database (0 for an empty file). Corruption when the file is not a
// Facegate database.
Result<int> ReadSchemaVersion(Connection& db);

// Brings the database to LatestSchemaVersion(); refuses (FailedPrecondition) a database of a
// newer version. `db_name` is used in messages.
Status Migrate(Connection& db, const Clock& clock, std::string_view db_name);

}  // namespace facegate::store::internal
