// Local time: weekday and minute from a date, fixed offsets, the host zone across DST
// changes, and date parsing.
#include "facegate/access/local_time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

namespace facegate::access {
namespace {

namespace chr = std::chrono;
using WallTime = Clock::WallTime;

WallTime Utc(int y, unsigned m, unsigned d, int hour, int minute) {
  return WallTime(chr::sys_days(chr::year_month_day(chr::year(y), chr::month(m), chr::day(d)))) +
         chr::hours(hour) + chr::minutes(minute);
}

chr::year_month_day Date(int y, unsigned m, unsigned d) {
  return chr::year_month_day(chr::year(y), chr::month(m), chr::day(d));
}

TEST(LocalTime, MakeComputesTheIsoWeekday) {
  EXPECT_EQ(MakeLocalTime(Date(2026, 12, 21), 0).iso_weekday, 1);  // Monday
  EXPECT_EQ(MakeLocalTime(Date(2026, 12, 27), 0).iso_weekday, 7);  // Sunday
  EXPECT_EQ(MakeLocalTime(Date(1970, 1, 1), 0).iso_weekday, 4);    // Thursday
  EXPECT_EQ(MakeLocalTime(Date(2028, 2, 29), 17).minute_of_day, 17);
}

TEST(LocalTime, FixedOffsetCrossesMidnightAndDropsSeconds) {
  // 23:30 UTC on Sunday is 00:30 on Monday at +60 minutes.
  LocalTime t = LocalTimeAtOffset(Utc(2026, 12, 20, 23, 30), chr::minutes(60));
  EXPECT_EQ(t.date, Date(2026, 12, 21));
  EXPECT_EQ(t.iso_weekday, 1);
  EXPECT_EQ(t.minute_of_day, 30);
  // 00:10 UTC on Monday is 19:10 on Sunday at -5 h.
  t = LocalTimeAtOffset(Utc(2026, 12, 21, 0, 10), chr::hours(-5));
  EXPECT_EQ(t.date, Date(2026, 12, 20));
  EXPECT_EQ(t.iso_weekday, 7);
  EXPECT_EQ(t.minute_of_day, 19 * 60 + 10);
  // 59.999 s past a minute is still that minute; 1 ms before 1970 is 1969-12-31 23:59.
  t = LocalTimeAtOffset(Utc(2026, 12, 21, 8, 0) + chr::milliseconds(59'999), chr::minutes(0));
  EXPECT_EQ(t.minute_of_day, 480);
  t = LocalTimeAtOffset(WallTime() - chr::milliseconds(1), chr::minutes(0));
  EXPECT_EQ(t.date, Date(1969, 12, 31));
  EXPECT_EQ(t.minute_of_day, 1439);
}

// Sets TZ for one test and restores it (each test of this binary runs in its own process
// under ctest; the restore keeps a plain run of the binary correct too).
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* zone) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", zone, 1);
    ::tzset();
  }
  ~ScopedTimeZone() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }

 private:
  std::optional<std::string> old_;
};

TEST(LocalTime, HostZoneReadsTheWallClockAcrossDaylightSaving) {
  ScopedTimeZone berlin("Europe/Berlin");
  // Spring forward, 2026-03-29: 01:59 CET is followed by 03:00 CEST; 02:xx never occurs.
  Result<LocalTime> before = HostLocalTime(Utc(2026, 3, 29, 0, 59));
  Result<LocalTime> after = HostLocalTime(Utc(2026, 3, 29, 1, 0));
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(before->minute_of_day, 1 * 60 + 59);
  EXPECT_EQ(after->minute_of_day, 3 * 60);
  EXPECT_EQ(after->iso_weekday, 7);
  // Fall back, 2026-10-25: 02:30 happens twice (CEST, then CET); both read minute 150.
  Result<LocalTime> first = HostLocalTime(Utc(2026, 10, 25, 0, 30));
  Result<LocalTime> second = HostLocalTime(Utc(2026, 10, 25, 1, 30));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(first->minute_of_day, 150);
  // Summer and winter: the same local reading from different UTC instants.
  EXPECT_EQ(HostLocalTime(Utc(2026, 7, 6, 6, 0))->minute_of_day, 480);  // CEST = UTC+2
  EXPECT_EQ(HostLocalTime(Utc(2026, 1, 5, 7, 0))->minute_of_day, 480);  // CET = UTC+1
  EXPECT_EQ(HostLocalTime(Utc(2026, 1, 5, 7, 0))->date, Date(2026, 1, 5));
}

TEST(LocalTime, HostZoneAgreesWithFixedOffsetInUtc) {
  ScopedTimeZone utc("UTC");
  const WallTime t = Utc(2026, 12, 21, 13, 37) + chr::seconds(42);
  Result<LocalTime> host = HostLocalTime(t);
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(*host, LocalTimeAtOffset(t, chr::minutes(0)));
}

TEST(LocalTime, ParsesAndFormatsDates) {
  EXPECT_EQ(ParseLocalDate("2026-12-25"), Date(2026, 12, 25));
  EXPECT_EQ(ParseLocalDate("2028-02-29"), Date(2028, 2, 29));
  EXPECT_FALSE(ParseLocalDate("2026-02-29").has_value());
  EXPECT_FALSE(ParseLocalDate("2026-13-01").has_value());
  EXPECT_FALSE(ParseLocalDate("2026-1-01").has_value());
  EXPECT_FALSE(ParseLocalDate("2026-01-0x").has_value());
  EXPECT_FALSE(ParseLocalDate("").has_value());
  EXPECT_EQ(FormatLocalDate(Date(2026, 1, 5)), "2026-01-05");
}

}  // namespace
}  // namespace facegate::access
