#include "facegate/core/clock.h"

namespace facegate {

SystemClock& SystemClock::Instance() {
  static auto* clock = new SystemClock();
  return *clock;
}

}  // namespace facegate
