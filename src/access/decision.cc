#include "facegate/access/decision.h"

namespace facegate::access {

std::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kGranted:
      return "granted";
    case Reason::kDoorUnknown:
      return "door_unknown";
    case Reason::kUserUnknown:
      return "user_unknown";
    case Reason::kUserBanned:
      return "user_banned";
    case Reason::kUserInactive:
      return "user_inactive";
    case Reason::kUserNotYetValid:
      return "user_not_yet_valid";
    case Reason::kUserExpired:
      return "user_expired";
    case Reason::kNoAccessToDoor:
      return "no_access_to_door";
    case Reason::kOutsideSchedule:
      return "outside_schedule";
  }
  return "door_unknown";
}

namespace {

AccessDecision Deny(Reason reason) { return AccessDecision{.granted = false, .reason = reason}; }

}  // namespace

AccessDecision Decide(const AccessSnapshot& snapshot, const AccessRequest& request) {
  if (!snapshot.HasDoor(request.door_id)) return Deny(Reason::kDoorUnknown);
  const UserState* user = request.user_id ? snapshot.FindUser(*request.user_id) : nullptr;
  if (user == nullptr) return Deny(Reason::kUserUnknown);
  // Banned before inactive: a ban is the stronger statement and the one an operator looks for.
  if (user->banned) return Deny(Reason::kUserBanned);
  if (!user->active) return Deny(Reason::kUserInactive);
  if (user->valid_from && request.now < *user->valid_from) return Deny(Reason::kUserNotYetValid);
  if (user->valid_until && request.now >= *user->valid_until) return Deny(Reason::kUserExpired);

  bool has_right = false;
  auto admits = [&](const Right* right) {
    if (right == nullptr) return false;
    has_right = true;
    return !right->schedule_id || snapshot.ScheduleAllows(*right->schedule_id, request.local);
  };
  auto grant = [](const Right& right) {
    return AccessDecision{
        .granted = true,
        .reason = Reason::kGranted,
        .granted_by = GrantingRight{
            .right_id = right.id, .group_id = right.group_id, .schedule_id = right.schedule_id}};
  };
  if (const Right* own = snapshot.FindUserRight(user->id, request.door_id); admits(own)) {
    return grant(*own);
  }
  for (int64_t group : snapshot.GroupsOfUser(user->id)) {
    if (const Right* via_group = snapshot.FindGroupRight(group, request.door_id);
        admits(via_group)) {
      return grant(*via_group);
    }
  }
  return Deny(has_right ? Reason::kOutsideSchedule : Reason::kNoAccessToDoor);
}

}  // namespace facegate::access
