// LocalTime: the site's local calendar date, ISO weekday and minute of the day, which is all a
// schedule looks at.
//
// Schedules are written in wall-clock terms ("Monday 08:00-18:00"), so a decision compares
// the local clock reading, not an instant: on a daylight-saving day 08:00 is 08:00 whatever
// the UTC offset, a skipped hour never occurs and a repeated hour counts twice. Converting an
// instant to LocalTime is the only place a time zone enters; the decision itself is pure.
//
// Thread-safety: value types and pure functions. HostLocalTime uses localtime_r (thread-safe;
// it reads the host zone, TZ or /etc/localtime, as the C library caches it).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "facegate/core/clock.h"
#include "facegate/core/status.h"

namespace facegate::access {

inline constexpr int kMinutesPerDay = 1440;

struct LocalTime {
  std::chrono::year_month_day date{};  // the local calendar date
  int iso_weekday = 1;                 // ISO 8601: 1 = Monday .. 7 = Sunday
  int minute_of_day = 0;               // 0..1439: minutes since local midnight (seconds dropped)

  friend bool operator==(const LocalTime&, const LocalTime&) = default;
};

// A LocalTime for `date` at `minute_of_day` (0..1439); the weekday is computed from the date.
LocalTime MakeLocalTime(std::chrono::year_month_day date, int minute_of_day);

// The instant as the host's local time zone reads it (localtime_r). Fails only when the C
// library cannot convert the instant (out of range).
Result<LocalTime> HostLocalTime(Clock::WallTime instant);

// The instant at a fixed offset from UTC (e.g. +60 min for CET). For tests and for sites
// configured with a fixed offset; it knows nothing of daylight saving.
LocalTime LocalTimeAtOffset(Clock::WallTime instant, std::chrono::minutes utc_offset);

// "YYYY-MM-DD" naming a real date, or none.
std::optional<std::chrono::year_month_day> ParseLocalDate(std::string_view text);
// The date as "YYYY-MM-DD".
std::string FormatLocalDate(std::chrono::year_month_day date);

}  // namespace facegate::access
