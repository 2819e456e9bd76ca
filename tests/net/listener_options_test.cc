#include "facegate/net/listener_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "facegate/core/config.h"

namespace facegate::net {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Parses `json_text` as the section "listeners.device" (config file in /etc/facegate) into
// `options`, which holds the defaults on entry; returns the errors, unknown keys included.
std::vector<std::string> Parse(const std::string& json_text, ListenerOptions* options) {
  nlohmann::json node = nlohmann::json::parse(json_text);
  ConfigErrors errors("/etc/facegate/facegate.json");
  {
    ConfigSection section(&node, "listeners.device", &errors, "/etc/facegate");
    ParseListenerOptions(section, options);
    section.Finish();
  }
  return errors.errors();
}

TEST(ListenerOptionsTest, ValidSectionFillsEveryField) {
  ListenerOptions o;
  o.name = "device";
  std::vector<std::string> errors = Parse(R"({
      "enabled": false,
      "address": "::1",
      "port": 8443,
      "cert_file": "tls/device.crt",
      "key_file": "/var/lib/facegate/device.key",
      "max_connections": 64,
      "max_header_bytes": 8192,
      "max_body_bytes": 1048576,
      "handshake_timeout_ms": 2000,
      "request_timeout_ms": 3000,
      "idle_timeout_ms": 4000,
      "write_timeout_ms": 5000
    })",
                                          &o);
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(o.name, "device");
  EXPECT_FALSE(o.enabled);
  EXPECT_EQ(o.address, "::1");
  EXPECT_EQ(o.port, 8443);
  EXPECT_EQ(o.cert_file, std::filesystem::path("/etc/facegate/tls/device.crt"));  // relative
  EXPECT_EQ(o.key_file, std::filesystem::path("/var/lib/facegate/device.key"));
  EXPECT_EQ(o.max_connections, 64);
  EXPECT_EQ(o.max_header_bytes, 8192);
  EXPECT_EQ(o.max_body_bytes, 1048576);
  EXPECT_EQ(o.handshake_timeout_ms, 2000);
  EXPECT_EQ(o.request_timeout_ms, 3000);
  EXPECT_EQ(o.idle_timeout_ms, 4000);
  EXPECT_EQ(o.write_timeout_ms, 5000);
}

TEST(ListenerOptionsTest, EmptySectionKeepsDefaults) {
  ListenerOptions o;
  o.port = 8443;
  EXPECT_THAT(Parse("{}", &o), IsEmpty());
  const ListenerOptions defaults;
  EXPECT_EQ(o.port, 8443);
  EXPECT_EQ(o.address, defaults.address);
  EXPECT_EQ(o.max_connections, defaults.max_connections);
  EXPECT_EQ(o.max_body_bytes, defaults.max_body_bytes);
  EXPECT_TRUE(o.cert_file.empty());
}

TEST(ListenerOptionsTest, AddressMustBeAnIpLiteral) {
  for (const char* bad : {"not-an-ip", "example.com", "127.0.0.256", ""}) {
    SCOPED_TRACE(bad);
    ListenerOptions o;
    std::vector<std::string> errors = Parse(nlohmann::json{{"address", bad}}.dump(), &o);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_THAT(errors[0], AllOf(HasSubstr("listeners.device.address"), HasSubstr(bad),
                                 HasSubstr("not an IPv4 or IPv6 address")));
    EXPECT_EQ(o.address, "127.0.0.1");  // the default stays
  }
  for (const char* good : {"0.0.0.0", "::", "10.1.2.3", "fe80::1"}) {
    SCOPED_TRACE(good);
    ListenerOptions o;
    EXPECT_THAT(Parse(nlohmann::json{{"address", good}}.dump(), &o), IsEmpty());
    EXPECT_EQ(o.address, good);
  }
}

TEST(ListenerOptionsTest, PortOutOfRangeNamesTheRange) {
  ListenerOptions o;
  o.port = 8443;
  std::vector<std::string> errors = Parse(R"({"port": 70000})", &o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], AllOf(HasSubstr("listeners.device.port"), HasSubstr("0 to 65535"),
                               HasSubstr("70000")));
  EXPECT_EQ(o.port, 8443);  // not truncated to 70000 % 65536

  errors = Parse(R"({"port": -1})", &o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("0 to 65535"));
  EXPECT_EQ(o.port, 8443);
}

TEST(ListenerOptionsTest, CertFileWithoutKeyFileIsAnError) {
  ListenerOptions o;
  std::vector<std::string> errors = Parse(R"({"cert_file": "/etc/facegate/device.crt"})", &o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], AllOf(HasSubstr("listeners.device.key_file"),
                               HasSubstr("cert_file and key_file go together")));

  ListenerOptions o2;
  errors = Parse(R"({"key_file": "/etc/facegate/device.key"})", &o2);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("listeners.device.cert_file"));
}

TEST(ListenerOptionsTest, UnknownKeyIsReported) {
  ListenerOptions o;
  std::vector<std::string> errors = Parse(R"({"prot": 8443})", &o);
  EXPECT_THAT(errors, ElementsAre("unknown key 'listeners.device.prot'"));
  EXPECT_EQ(o.port, 0);
}

TEST(ListenerOptionsTest, WrongTypeSaysWhatWasExpected) {
  ListenerOptions o;
  std::vector<std::string> errors = Parse(R"({"port": "8443"})", &o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], AllOf(HasSubstr("listeners.device.port"), HasSubstr("expected an integer"),
                               HasSubstr("a string")));
  EXPECT_EQ(o.port, 0);

  errors = Parse(R"({"enabled": "yes", "max_connections": 1.5})", &o);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_THAT(errors[0], AllOf(HasSubstr("listeners.device.enabled"), HasSubstr("true or false")));
  EXPECT_THAT(errors[1], AllOf(HasSubstr("listeners.device.max_connections"),
                               HasSubstr("expected an integer")));
}

TEST(ListenerOptionsTest, LimitsAreRangeChecked) {
  ListenerOptions o;
  std::vector<std::string> errors =
      Parse(R"({"max_connections": 0, "max_header_bytes": 100, "handshake_timeout_ms": 5})", &o);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_THAT(errors[0], HasSubstr("listeners.device.max_connections"));
  EXPECT_THAT(errors[1], HasSubstr("listeners.device.max_header_bytes"));
  EXPECT_THAT(errors[2], HasSubstr("listeners.device.handshake_timeout_ms"));
  const ListenerOptions defaults;
  EXPECT_EQ(o.max_connections, defaults.max_connections);
  EXPECT_EQ(o.max_header_bytes, defaults.max_header_bytes);
  EXPECT_EQ(o.handshake_timeout_ms, defaults.handshake_timeout_ms);
}

}  // namespace
}  // namespace facegate::net
