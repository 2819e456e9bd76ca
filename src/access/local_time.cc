#include "facegate/access/local_time.h"

#include <cstdio>
#include <ctime>
#include <string>

namespace facegate::access {

namespace chr = std::chrono;

LocalTime MakeLocalTime(chr::year_month_day date, int minute_of_day) {
  LocalTime t;
  t.date = date;
  t.iso_weekday = static_cast<int>(chr::weekday(chr::sys_days(date)).iso_encoding());
  t.minute_of_day = minute_of_day;
  return t;
}

Result<LocalTime> HostLocalTime(Clock::WallTime instant) {
  const std::time_t seconds =
      static_cast<std::time_t>(chr::floor<chr::seconds>(instant).time_since_epoch().count());
  std::tm tm{};
  if (localtime_r(&seconds, &tm) == nullptr) {
    return Status::InvalidArgument("cannot convert the instant " + std::to_string(seconds) +
                                   " s to the host's local time");
  }
  LocalTime t;
  t.date = chr::year_month_day(chr::year(tm.tm_year + 1900),
                               chr::month(static_cast<unsigned>(tm.tm_mon + 1)),
                               chr::day(static_cast<unsigned>(tm.tm_mday)));
  t.iso_weekday = tm.tm_wday == 0 ? 7 : tm.tm_wday;  // tm counts from Sunday = 0
  t.minute_of_day = tm.tm_hour * 60 + tm.tm_min;
  return t;
}

LocalTime LocalTimeAtOffset(Clock::WallTime instant, chr::minutes utc_offset) {
  // floor, not a cast: an instant before 1970 still belongs to the minute that started before it.
  const chr::sys_time<chr::minutes> local = chr::floor<chr::minutes>(instant) + utc_offset;
  const chr::sys_days day = chr::floor<chr::days>(local);
  return MakeLocalTime(chr::year_month_day(day), static_cast<int>((local - day).count()));
}

std::optional<chr::year_month_day> ParseLocalDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int parts[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lengths[3] = {4, 2, 2};
  for (int p = 0; p < 3; ++p) {
    for (size_t i = starts[p]; i < starts[p] + lengths[p]; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      parts[p] = parts[p] * 10 + (text[i] - '0');
    }
  }
  const chr::year_month_day date{chr::year(parts[0]), chr::month(static_cast<unsigned>(parts[1])),
                                 chr::day(static_cast<unsigned>(parts[2]))};
  if (!date.ok()) return std::nullopt;
  return date;
}

std::string FormatLocalDate(chr::year_month_day date) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return buffer;
}

}  // namespace facegate::access
