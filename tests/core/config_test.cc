#include "facegate/core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace facegate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Parsed {
  nlohmann::json json;
  ConfigErrors errors{"/etc/facegate/facegate.json"};
};

std::unique_ptr<Parsed> Parse(const std::string& text) {
  auto p = std::make_unique<Parsed>();
  Status s = ParseJsonText(text, "/etc/facegate/facegate.json", &p->json);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return p;
}

TEST(ConfigTest, ReadsValuesAndKeepsDefaultsForMissingKeys) {
  auto p = Parse(R"({"name": "x", "on": true, "n": 7, "ratio": 0.5, "list": ["a","b"]})");
  std::string name, missing = "default";
  bool on = false;
  int n = 1;
  double ratio = 0;
  std::vector<std::string> list;
  {
    ConfigSection s(&p->json, "", &p->errors, "/etc/facegate");
    s.Get("name", &name);
    s.Get("absent", &missing);
    s.Get("on", &on);
    s.Get("n", &n, 0, 10);
    s.Get("ratio", &ratio, 0, 1);
    s.Get("list", &list);
  }
  EXPECT_TRUE(p->errors.empty()) << p->errors.ToStatus().ToString();
  EXPECT_EQ(name, "x");
  EXPECT_EQ(missing, "default");
  EXPECT_TRUE(on);
  EXPECT_EQ(n, 7);
  EXPECT_DOUBLE_EQ(ratio, 0.5);
  EXPECT_THAT(list, ElementsAre("a", "b"));
}

TEST(ConfigTest, UnknownKeysAreReportedWithTheirPath) {
  auto p = Parse(R"({"listeners": {"device": {"prot": 1, "port": 2}}, "typo": 1})");
  {
    ConfigSection top(&p->json, "", &p->errors, "/");
    auto listeners = top.Child("listeners");
    auto device = listeners.Child("device");
    int port = 0;
    device.Get("port", &port, 0, 65535);
  }
  EXPECT_THAT(p->errors.errors(),
              ::testing::UnorderedElementsAre("unknown key 'listeners.device.prot'",
                                              "unknown key 'typo'"));
}

TEST(ConfigTest, WrongTypesNameTheKeyAndWhatWasExpected) {
  auto p = Parse(R"({"a": "8443", "b": 1, "c": [1], "d": {}, "e": 3})");
  {
    ConfigSection s(&p->json, "server", &p->errors, "/");
    int a = 0;
    s.Get("a", &a, 0, 65535);
    std::string b;
    s.Get("b", &b);
    std::vector<std::string> c;
    s.Get("c", &c);
    bool d = false;
    s.Get("d", &d);
    s.Child("e");
  }
  const auto& e = p->errors.errors();
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0], "server.a: expected an integer from 0 to 65535, got a string (\"8443\")");
  EXPECT_EQ(e[1], "server.b: expected a string, got an integer (1)");
  EXPECT_EQ(e[2], "server.c[0]: expected a string, got an integer (1)");
  EXPECT_EQ(e[3], "server.d: expected true or false, got an object ({})");
  EXPECT_EQ(e[4], "server.e: expected an object, got an integer (3)");
}

TEST(ConfigTest, RangesAreChecked) {
  auto p = Parse(R"({"port": 70000, "neg": -1, "ratio": 1.5, "huge": 18446744073709551615})");
  int port = 1, neg = 1;
  double ratio = 0;
  int64_t huge = 0;
  {
    ConfigSection s(&p->json, "x", &p->errors, "/");
    s.Get("port", &port, 0, 65535);
    s.Get("neg", &neg, 0, 10);
    s.Get("ratio", &ratio, 0, 1);
    s.Get("huge", &huge, 0, 100);
  }
  const auto& e = p->errors.errors();
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0], "x.port: expected an integer from 0 to 65535, got 70000");
  EXPECT_THAT(e[1], HasSubstr("x.neg: expected an integer from 0 to 10, got -1"));
  EXPECT_THAT(e[2], HasSubstr("x.ratio: expected a number from 0 to 1"));
  EXPECT_THAT(e[3], HasSubstr("x.huge"));
  EXPECT_EQ(port, 1) << "an invalid value must not overwrite the default";
}

TEST(ConfigTest, EnumsListTheAllowedValues) {
  auto p = Parse(R"({"level": "verbose"})");
  std::string level = "info";
  {
    ConfigSection s(&p->json, "log", &p->errors, "/");
    s.GetEnum("level", &level, {"debug", "info"});
  }
  ASSERT_EQ(p->errors.errors().size(), 1u);
  EXPECT_EQ(p->errors.errors()[0],
            "log.level: expected one of \"debug\", \"info\", got \"verbose\"");
  EXPECT_EQ(level, "info");
}

TEST(ConfigTest, RelativePathsResolveAgainstTheConfigDirectory) {
  auto p = Parse(R"({"rel": "../var/data", "abs": "/srv/x", "empty": ""})");
  std::filesystem::path rel, abs, empty = "keep";
  {
    ConfigSection s(&p->json, "", &p->errors, "/opt/facegate/config");
    s.GetPath("rel", &rel);
    s.GetPath("abs", &abs);
    s.GetPath("empty", &empty);
  }
  EXPECT_EQ(rel, "/opt/facegate/var/data");
  EXPECT_EQ(abs, "/srv/x");
  EXPECT_TRUE(empty.empty());
}

TEST(ConfigTest, ErrorsStatusNamesTheFileOnEveryLine) {
  ConfigErrors errors("/etc/f.json");
  EXPECT_TRUE(errors.ToStatus().ok());
  errors.Add("a: bad");
  errors.Add("b: worse");
  Status s = errors.ToStatus();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "/etc/f.json: a: bad\n/etc/f.json: b: worse");
}

TEST(ConfigTest, SyntaxErrorsGiveLineAndColumn) {
  nlohmann::json j;
  Status s = ParseJsonText("{\n  \"a\": 1,\n  \"b\": }\n", "/etc/f.json", &j);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("/etc/f.json:3:"));
  EXPECT_THAT(s.message(), HasSubstr("invalid JSON"));
}

TEST(ConfigTest, CommentsAreAllowed) {
  nlohmann::json j;
  Status s = ParseJsonText("// comment\n{ /* inline */ \"a\": 1 }", "f", &j);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(j["a"], 1);
}

TEST(ConfigTest, TopLevelMustBeAnObject) {
  auto p = Parse("[1, 2]");
  { ConfigSection s(&p->json, "", &p->errors, "/"); }
  ASSERT_EQ(p->errors.errors().size(), 1u);
  EXPECT_EQ(p->errors.errors()[0], "the top level: expected an object, got an array");
}

TEST(ConfigTest, CallerValidationErrorsUseTheKeyPath) {
  auto p = Parse(R"({"cert_file": "x"})");
  {
    ConfigSection s(&p->json, "listeners.admin", &p->errors, "/");
    std::filesystem::path f;
    s.GetPath("cert_file", &f);
    s.Error("key_file", "cert_file and key_file go together");
  }
  EXPECT_THAT(p->errors.errors(),
              ElementsAre("listeners.admin.key_file: cert_file and key_file go together"));
}

}  // namespace
}  // namespace facegate
