#include "facegate/core/time_format.h"

#include <gtest/gtest.h>

namespace facegate {
namespace {

using namespace std::chrono;

TEST(TimeFormatTest, WritesUtcWithMilliseconds) {
  auto t = sys_days{year{2026} / 12 / 1} + hours{8} + minutes{5} + seconds{9} + milliseconds{7};
  EXPECT_EQ(FormatRfc3339(time_point_cast<Clock::WallTime::duration>(t)),
            "2026-12-01T08:05:09.007Z");
}

TEST(TimeFormatTest, ReadsWhatItWritesAndOffsets) {
  auto t = time_point_cast<Clock::WallTime::duration>(sys_days{year{2026} / 3 / 29} + hours{1} +
                                                      milliseconds{500});
  EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t);
  EXPECT_EQ(ParseRfc3339("2026-03-29T03:00:00.5+02:00"), t);
  EXPECT_EQ(ParseRfc3339("2026-03-28T20:00:00.500-05:00"), t);
  EXPECT_EQ(ParseRfc3339("2026-03-29t01:00:00.500z"), t);
}

TEST(TimeFormatTest, RefusesWhatIsNotATimestamp) {
  for (const char* bad :
       {"", "2026-12-01", "2026-12-01T08:00:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-12-01T24:00:00Z", "2026-12-01T08:00:00.Z", "2026-12-01T08:00:00Z trailing",
        "2026-12-01T08:00:00+0100", "x026-12-01T08:00:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace facegate
