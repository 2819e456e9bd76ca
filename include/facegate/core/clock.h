// Clock: the one source of time for Facegate code, injected so tests control it.
//
// Wall time (Now) is for timestamps, schedules and certificate validity; monotonic time
// (Monotonic) is for durations, deadlines and timeouts, so an NTP step never stretches or
// cuts them. SystemClock is thread-safe; FakeClock (tests/testing) is too.
#pragma once

#include <chrono>

namespace facegate {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using MonoTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual WallTime Now() const = 0;
  virtual MonoTime Monotonic() const = 0;
};

// The real clocks of the machine.
class SystemClock final : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
  MonoTime Monotonic() const override { return std::chrono::steady_clock::now(); }

  // A process-wide instance; never destroyed.
  static SystemClock& Instance();
};

}  // namespace facegate
