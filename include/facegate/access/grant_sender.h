// GrantSender: what the access-control system is told of a grant, behind an interface so that
// the device API knows nothing of SHIP (the Salto Space integration implements it:
// ship::SpaceService) and another request ("user X identified at door Y") can be added.
//
// A door opening is time-critical and never replayed late: the sender gets a budget, and its
// answer says whether the door was opened within it. The device API turns a failure into
// `deny acs_unreachable` / `deny acs_refused` (fail-secure) unless the door says fail-open.
// Thread-safety: OnGrant is called from the device API's threads, concurrently; `done` may be
// called from any thread, exactly once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "facegate/store/records.h"

namespace facegate::access {

struct GrantOutcome {
  enum class Kind {
    kNotSent,      // nothing to tell: no integration, or the door is not opened through it
    kOpened,       // the access-control system confirmed the opening in time
    kUnreachable,  // no confirmation in time (down, hanging, refused the key, broken answer)
    kRefused,      // it answered, and refused this door (e.g. the door is offline)
  };
  Kind kind = Kind::kNotSent;
  std::string error;       // what went wrong (kUnreachable, kRefused)
  bool fail_open = false;  // the door's setting: grant even when the opening failed
  double ms = 0;           // how long the attempt took
};

class GrantSender {
 public:
  virtual ~GrantSender() = default;
  // Opens `door` (as the decision read it: no second read on the hot path) for `user_id` if
  // this sender handles that door; calls `done` within `budget` (plus scheduling slack) in
  // every case. Must not block the caller.
  virtual void OnGrant(const store::Door& door, int64_t user_id, std::chrono::milliseconds budget,
                       std::function<void(GrantOutcome)> done) = 0;
};

}  // namespace facegate::access
