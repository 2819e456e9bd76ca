// RFC 3339 timestamps, as every Facegate API writes and reads them.
// Written: UTC with milliseconds, "2026-12-01T08:00:00.123Z". Read: a date, "T" (or "t"/" "),
// a time with optional fraction, then "Z" or a "+HH:MM"/"-HH:MM" offset.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "facegate/core/clock.h"

namespace facegate {

std::string FormatRfc3339(Clock::WallTime t);
std::optional<Clock::WallTime> ParseRfc3339(std::string_view text);

}  // namespace facegate
