#include "facegate/core/logging.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace facegate {
namespace {

TEST(LoggingTest, ParsesLevelAndFormat) {
  nlohmann::json j = {{"level", "debug"}, {"format", "journal"}};
  ConfigErrors errors("f");
  LogOptions o;
  {
    ConfigSection s(&j, "log", &errors, "/");
    ParseLogOptions(s, &o);
  }
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(o.level, "debug");
  EXPECT_EQ(o.format, "journal");
}

TEST(LoggingTest, RejectsUnknownLevelAndFormat) {
  nlohmann::json j = {{"level", "loud"}, {"format", "xml"}};
  ConfigErrors errors("f");
  LogOptions o;
  {
    ConfigSection s(&j, "log", &errors, "/");
    ParseLogOptions(s, &o);
  }
  ASSERT_EQ(errors.errors().size(), 2u);
  EXPECT_NE(errors.errors()[0].find("log.level"), std::string::npos);
  EXPECT_NE(errors.errors()[1].find("log.format"), std::string::npos);
  EXPECT_EQ(o.level, "info");
}

TEST(LoggingTest, SetLogLevelValidates) {
  EXPECT_TRUE(SetLogLevel("warn").ok());
  EXPECT_EQ(SetLogLevel("chatty").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(SetLogLevel("info").ok());
}

TEST(LoggingTest, JournalDetectionNeedsMatchingStream) {
  ::setenv("JOURNAL_STREAM", "1:2", 1);  // not our stderr's device and inode
  EXPECT_FALSE(StderrIsJournal());
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(StderrIsJournal());
}

}  // namespace
}  // namespace facegate
