// The text forms of the access model that people type and read, shared by the admin API and
// facegatectl so that both accept and print exactly the same: schedule days (mon..sun,
// holiday, special1, special2 or their numbers 1..10; spans mon-fri and lists sat,sun), clock
// times HH:MM (24:00 only as the end of a range), and holiday dates.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace facegate::access {

// "mon".."sun", "holiday", "special1", "special2" for day numbers 1..10; "?" otherwise.
std::string_view DayName(int day);
// One day, by name or number.
std::optional<int> ParseDay(std::string_view text);
// A day, a span (mon-fri) or a comma-separated list of them, in the order written.
std::optional<std::vector<int>> ParseDays(std::string_view text);
// "HH:MM" -> minutes from midnight; "24:00" (1440) only when `allow_midnight_end`.
std::optional<int> ParseClock(std::string_view text, bool allow_midnight_end);
// Minutes from midnight as "HH:MM".
std::string ClockText(int minute);
// "YYYY-MM-DD" naming a real date from 1970 on (a holiday's date).
bool IsHolidayDate(std::string_view text);

}  // namespace facegate::access
