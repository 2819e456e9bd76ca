// The access decision: may this person (identified by the face engine, or nobody) pass this
// door now? A pure function of an AccessSnapshot, the request and the time: no I/O, no locks,
// no clock read inside, so every case is tested with a table and a fixed time.
//
// Checks, in this order (the first that fails is the reason):
//   door known -> user known -> not banned -> active -> valid_from <= now -> now < valid_until
//   -> a right to the door (direct or through any group) -> one of those rights' schedules
//   admits the local time (a right without a schedule admits any time).
// See docs/access.md.
//
// Thread-safety: pure functions over immutable data; call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "facegate/access/local_time.h"
#include "facegate/access/snapshot.h"

namespace facegate::access {

enum class Reason {
  kGranted,
  kDoorUnknown,  // the door id is not in the snapshot
  kUserUnknown,  // no user id, or one not in the snapshot
  kUserBanned,
  kUserInactive,
  kUserNotYetValid,  // before valid_from
  kUserExpired,      // at or after valid_until
  kNoAccessToDoor,   // no right to this door, directly or through a group
  kOutsideSchedule,  // rights exist, but none of their schedules admits the local time
};

// The reason as events and answers spell it: "granted", "door_unknown", "user_unknown",
// "user_banned", "user_inactive", "user_not_yet_valid", "user_expired", "no_access_to_door",
// "outside_schedule".
std::string_view ReasonName(Reason reason);

struct AccessRequest {
  std::optional<int64_t> user_id;  // none: nobody was identified
  int64_t door_id = 0;
  WallTime now{};   // the instant, for the validity period
  LocalTime local;  // the same instant in the site's local time, for schedules
};

// The right that let the person in: for the event's details.
struct GrantingRight {
  int64_t right_id = 0;
  std::optional<int64_t> group_id;     // set when the right is a group's
  std::optional<int64_t> schedule_id;  // none: the right has no schedule
};

struct AccessDecision {
  bool granted = false;
  Reason reason = Reason::kDoorUnknown;
  // Only on a grant. A denial carries the reason alone: nothing about the person's rights or
  // schedules leaves the decision (an answer to a terminal is shown at the door).
  std::optional<GrantingRight> granted_by;

  std::string_view reason_name() const { return ReasonName(reason); }
};

// With several rights that apply, the user's own right is tried first, then the groups'
// rights in ascending group id; the first whose schedule admits the local time is reported.
AccessDecision Decide(const AccessSnapshot& snapshot, const AccessRequest& request);

}  // namespace facegate::access
