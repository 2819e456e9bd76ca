// Black-box: log.format decides what each line of facegated's output starts with.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "blackbox/facegated_fixture.h"

namespace facegate::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Starts a daemon with `format`, stops it, and returns its whole output.
std::string RunWithLogFormat(const std::string& format) {
  FacegatedUnderTest daemon;
  daemon.config()["log"]["format"] = format;
  Status started = daemon.Start();
  EXPECT_TRUE(started.ok()) << started.ToString();
  auto exit = daemon.Stop();
  EXPECT_TRUE(exit.has_value()) << daemon.log();
  if (exit) {
    EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
  }
  return daemon.log();
}

TEST(DaemonLoggingTest, JournalFormatPrefixesThePriority) {
  std::string log = RunWithLogFormat("journal");
  auto lines = Lines(log);
  ASSERT_FALSE(lines.empty());
  const std::regex priority("^<[0-7]>.*");
  const std::regex timestamp("^(<[0-7]>)?[0-9]{4}-[0-9]{2}-[0-9]{2}T.*");
  bool saw_info = false;
  for (const auto& line : lines) {
    EXPECT_TRUE(std::regex_match(line, priority)) << "line without a priority: " << line;
    // journald adds the time itself.
    EXPECT_FALSE(std::regex_match(line, timestamp)) << "line with a timestamp: " << line;
    if (line.find("starting") != std::string::npos || line.find(" ready") != std::string::npos) {
      EXPECT_EQ(line.rfind("<6>", 0), 0u) << "an info line: " << line;
      saw_info = true;
    }
  }
  EXPECT_TRUE(saw_info) << log;
}

TEST(DaemonLoggingTest, TextFormatStartsWithAnUtcTimestamp) {
  std::string log = RunWithLogFormat("text");
  auto lines = Lines(log);
  ASSERT_FALSE(lines.empty());
  // "2026-11-23T16:40:01.123Z info  message"
  const std::regex stamped(
      "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z [a-z]+ +.*");
  for (const auto& line : lines) {
    EXPECT_TRUE(std::regex_match(line, stamped)) << "line without a timestamp: " << line;
  }
  EXPECT_THAT(log, ::testing::ContainsRegex("Z info +facegated .* starting"));
}

TEST(DaemonLoggingTest, AutoFormatIsJournalOnlyWhenStderrIsTheJournal) {
  // systemd names the journal stream in JOURNAL_STREAM as "<device>:<inode>"; the daemon's
  // stderr is the log file here, so naming that file makes it "the journal".
  FacegatedUnderTest daemon;
  daemon.config()["log"]["format"] = "auto";
  auto log_file = daemon.NextLogFile();
  WriteFileForTest(log_file, "");
  struct stat st {};
  ASSERT_EQ(::stat(log_file.c_str(), &st), 0);
  daemon.env()["JOURNAL_STREAM"] = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  auto exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  auto lines = Lines(daemon.log());
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front().rfind("<6>", 0), 0u) << daemon.log();

  // Another stream (stderr is not the journal, e.g. redirected by an admin): text.
  daemon.env()["JOURNAL_STREAM"] = std::to_string(st.st_dev) + ":1";
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  lines = Lines(daemon.log());
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(std::regex_match(lines.front(), std::regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*")))
      << daemon.log();
}

}  // namespace
}  // namespace facegate::testing
