// Black-box: facegated refuses bad configuration files with exit code 2 and a message that
// names the file and the key, before it touches the data directory; --check-config validates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "blackbox/facegated_fixture.h"

namespace facegate::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// True when one line of `output` is about `file` (starts "<file>: " after any program prefix)
// and names `key`.
bool SomeLineNames(const std::string& output, const std::string& file, const std::string& key) {
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(start, end - start);
    size_t at = line.find(file + ": ");
    if (at != std::string::npos && line.find(key, at) != std::string::npos) return true;
    start = end + 1;
  }
  return false;
}

struct BadConfig {
  std::string name;
  std::string text;  // the whole file
  std::string key;   // the key path a line about the file must name
  std::string detail;
};

// CTest lists parameterised tests with their parameter: keep that short.
void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

// A valid file with one line changed, so each case has exactly one mistake.
std::string ConfigWith(const std::string& device_line, const std::string& extra_top = "") {
  return R"({
  // comments are allowed
  "data_dir": "data",
  "log": { "level": "info", "format": "text" },)" +
         extra_top + R"(
  "server": { "ports_file": "ports.json" },
  "listeners": {
    "device": { "address": "127.0.0.1", )" +
         device_line + R"( },
    "admin": { "address": "127.0.0.1", "port": 0 },
    "enrollment": { "enabled": false }
  }
}
)";
}

class DaemonBadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(DaemonBadConfigTest, ExitsTwoNamingTheFileAndTheKey) {
  const BadConfig& c = GetParam();
  FacegatedUnderTest daemon;
  WriteFileForTest(daemon.config_path(), c.text);
  for (const char* mode : {"", "--check-config"}) {
    SCOPED_TRACE(std::string("mode: ") + (*mode ? mode : "serve"));
    std::vector<std::string> args = {"--config", daemon.config_path().string()};
    if (*mode) args.push_back(mode);
    auto run = daemon.Run(args);
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ASSERT_TRUE(run->exit.has_value()) << "still running; output:\n" << run->output;
    EXPECT_EQ(run->exit->ToString(), "exit code 2") << run->output;
    EXPECT_TRUE(SomeLineNames(run->output, daemon.config_path().string(), c.key))
        << "no line names " << daemon.config_path() << " and " << c.key << ":\n"
        << run->output;
    EXPECT_THAT(run->output, HasSubstr(c.detail));
    // Nothing was created or bound for a file that does not parse.
    EXPECT_FALSE(std::filesystem::exists(daemon.data_dir()));
    EXPECT_FALSE(std::filesystem::exists(daemon.ports_file()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DaemonBadConfigTest,
    ::testing::Values(BadConfig{"UnknownKey", ConfigWith(R"("port": 0, "prot": 8443)"),
                                "listeners.device.prot", "unknown key"},
                      BadConfig{"UnknownTopLevelKey",
                                ConfigWith(R"("port": 0)", R"( "colour": "blue",)"), "colour",
                                "unknown key"},
                      BadConfig{"WrongType", ConfigWith(R"("port": "8443")"),
                                "listeners.device.port", "a string"},
                      BadConfig{"PortOutOfRange", ConfigWith(R"("port": 70000)"),
                                "listeners.device.port", "70000"},
                      BadConfig{"BadEnum",
                                R"({ "data_dir": "data", "log": { "level": "loud" },
                       "server": { "ports_file": "ports.json" } })",
                                "log.level", "loud"}),
    [](const ::testing::TestParamInfo<BadConfig>& param_info) { return param_info.param.name; });

TEST(DaemonConfigTest, InvalidJsonIsReportedWithLineAndColumn) {
  FacegatedUnderTest daemon;
  // Line 4 lacks the comma after the data_dir value.
  WriteFileForTest(daemon.config_path(),
                   "{\n"
                   "  // development\n"
                   "  \"data_dir\": \"data\"\n"
                   "  \"log\": { \"level\": \"info\" }\n"
                   "}\n");
  auto run = daemon.Run({"--config", daemon.config_path().string()});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 2") << run->output;
  // "<file>:4:<column>: invalid JSON: ..."
  EXPECT_THAT(run->output, HasSubstr(daemon.config_path().string() + ":4:"));
  EXPECT_THAT(run->output, ContainsRegex(":4:[0-9]+: invalid JSON"));
  EXPECT_FALSE(std::filesystem::exists(daemon.data_dir()));
}

TEST(DaemonConfigTest, MissingFileExitsTwoNamingIt) {
  FacegatedUnderTest daemon;
  auto missing = daemon.dir() / "nowhere.json";
  for (const char* mode : {"", "--check-config"}) {
    std::vector<std::string> args = {"--config", missing.string()};
    if (*mode) args.push_back(mode);
    auto run = daemon.Run(args);
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ASSERT_TRUE(run->exit.has_value()) << run->output;
    EXPECT_EQ(run->exit->ToString(), "exit code 2") << run->output;
    EXPECT_THAT(run->output, HasSubstr(missing.string()));
  }
}

TEST(DaemonConfigTest, EveryMistakeIsReportedAtOnce) {
  FacegatedUnderTest daemon;
  WriteFileForTest(daemon.config_path(), R"({
    "data_dir": "data",
    "server": { "io_threads": 0 },
    "listeners": { "admin": { "port": -1 }, "device": { "max_connections": "many" } }
  })");
  auto run = daemon.Run({"--check-config", "--config", daemon.config_path().string()});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 2") << run->output;
  EXPECT_THAT(run->output, HasSubstr("server.io_threads"));
  EXPECT_THAT(run->output, HasSubstr("listeners.admin.port"));
  EXPECT_THAT(run->output, HasSubstr("listeners.device.max_connections"));
}

TEST(DaemonConfigTest, CheckConfigAcceptsAGoodFileWithoutTouchingAnything) {
  FacegatedUnderTest daemon;
  daemon.WriteConfig();
  auto run = daemon.Run({"--config", daemon.config_path().string(), "--check-config"});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 0") << run->output;
  EXPECT_THAT(run->output, HasSubstr(daemon.config_path().string() + ": OK"));
  EXPECT_FALSE(std::filesystem::exists(daemon.data_dir()));
  EXPECT_FALSE(std::filesystem::exists(daemon.ports_file()));

  // The shipped development config is valid too.
  auto dev = SourceDir() / "config" / "dev.json";
  if (std::filesystem::exists(dev)) {
    auto dev_run = daemon.Run({"--check-config", "--config", dev.string()});
    ASSERT_TRUE(dev_run.ok()) << dev_run.status().ToString();
    ASSERT_TRUE(dev_run->exit.has_value()) << dev_run->output;
    EXPECT_EQ(dev_run->exit->ToString(), "exit code 0") << dev_run->output;
  }
}

TEST(DaemonConfigTest, RelativePathsResolveAgainstTheConfigFile) {
  FacegatedUnderTest daemon;
  // Started from another working directory (CTest uses the source tree); data_dir "data"
  // and ports_file "ports.json" must still land next to the config file.
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  EXPECT_TRUE(std::filesystem::is_directory(daemon.data_dir()));
  EXPECT_TRUE(std::filesystem::exists(daemon.ports_file()));
  auto exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
}

}  // namespace
}  // namespace facegate::testing
