#include "facegate/access/schedule_text.h"

#include <charconv>
#include <cstdio>

#include "facegate/access/local_time.h"
#include "facegate/store/records.h"

namespace facegate::access {

namespace {

constexpr const char* kDayNames[] = {"",    "mon", "tue",     "wed",      "thu",     "fri",
                                     "sat", "sun", "holiday", "special1", "special2"};

std::optional<int> ParseIntIn(std::string_view s, int min, int max) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

}  // namespace

std::string_view DayName(int day) {
  if (day < store::kFirstWeekday || day > store::kSpecialDay2Type) return "?";
  return kDayNames[day];
}

std::optional<int> ParseDay(std::string_view s) {
  for (int d = store::kFirstWeekday; d <= store::kSpecialDay2Type; ++d) {
    if (s == kDayNames[d]) return d;
  }
  return ParseIntIn(s, store::kFirstWeekday, store::kSpecialDay2Type);
}

std::optional<std::vector<int>> ParseDays(std::string_view days) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= days.size()) {
    size_t comma = days.find(',', pos);
    if (comma == std::string_view::npos) comma = days.size();
    const std::string_view item = days.substr(pos, comma - pos);
    const size_t span = item.find('-');
    auto first = ParseDay(item.substr(0, span));
    auto last = span == std::string_view::npos ? first : ParseDay(item.substr(span + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    for (int d = *first; d <= *last; ++d) out.push_back(d);
    pos = comma + 1;
  }
  return out;
}

std::optional<int> ParseClock(std::string_view s, bool allow_midnight_end) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  auto h = ParseIntIn(s.substr(0, 2), 0, 24);
  auto m = ParseIntIn(s.substr(3, 2), 0, 59);
  if (!h || !m) return std::nullopt;
  const int minute = *h * 60 + *m;
  if (minute > store::kMinutesPerDay || (minute == store::kMinutesPerDay && !allow_midnight_end)) {
    return std::nullopt;
  }
  return minute;
}

std::string ClockText(int minute) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

bool IsHolidayDate(std::string_view s) {
  auto date = ParseLocalDate(s);
  return date && static_cast<int>(date->year()) >= 1970;
}

}  // namespace facegate::access
