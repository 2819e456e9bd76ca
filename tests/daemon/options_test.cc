#include "facegate/daemon/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "facegate/core/files.h"
#include "testing/temp_dir.h"

namespace facegate::daemon {
namespace {

using ::testing::HasSubstr;

Result<DaemonOptions> Parse(const std::string& text) {
  return ParseDaemonOptions(text, "/etc/facegate/facegate.json");
}

TEST(DaemonOptionsTest, EmptyObjectGivesDevDefaults) {
  auto o = Parse("{}");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->device.address, "127.0.0.1");
  EXPECT_EQ(o->device.port, 8443);
  EXPECT_EQ(o->admin.port, 8444);
  EXPECT_FALSE(o->enrollment.enabled);
  EXPECT_EQ(o->device.max_body_bytes, 2 * 1024 * 1024);
  EXPECT_EQ(o->data_dir, "/var/lib/facegate");
}

TEST(DaemonOptionsTest, ReadsEverySection) {
  auto o = Parse(R"({
    "data_dir": "data",
    "log": {"level": "debug", "format": "journal"},
    "server": {"io_threads": 4, "drain_timeout_ms": 2000, "ports_file": "/run/facegate/ports.json"},
    "tls": {"server_addresses": ["10.0.0.5", "::1"], "server_names": ["door.example"],
            "ca_validity_days": 100, "server_cert_validity_days": 50, "renew_before_days": 10},
    "listeners": {
      "device": {"address": "0.0.0.0", "port": 443, "max_body_bytes": 1000000},
      "admin": {"address": "10.1.0.2", "port": 9444, "cert_file": "a.crt", "key_file": "a.key"},
      "enrollment": {"enabled": true, "port": 9445}
    }
  })");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->data_dir, "/etc/facegate/data");
  EXPECT_EQ(o->log.level, "debug");
  EXPECT_EQ(o->server.io_threads, 4);
  EXPECT_EQ(o->server.ports_file, "/run/facegate/ports.json");
  EXPECT_EQ(o->tls.server_addresses.size(), 2u);
  EXPECT_EQ(o->tls.renew_before_days, 10);
  EXPECT_EQ(o->device.port, 443);
  EXPECT_EQ(o->device.max_body_bytes, 1000000);
  EXPECT_EQ(o->admin.cert_file, "/etc/facegate/a.crt");
  EXPECT_TRUE(o->enrollment.enabled);
  EXPECT_EQ(o->enrollment.name, "enrollment");
}

TEST(DaemonOptionsTest, EveryProblemIsReportedWithFileAndKey) {
  auto o = Parse(R"({
    "data_dir": "",
    "lgo": {},
    "server": {"io_threads": 0},
    "tls": {"server_addresses": ["door.local"], "renew_before_days": 400},
    "listeners": {"device": {"port": "443"}, "admin": {"address": "localhost"}, "printer": {}}
  })");
  ASSERT_FALSE(o.ok());
  const std::string& m = o.status().message();
  for (const char* expected : {
           "/etc/facegate/facegate.json: data_dir: must not be empty",
           "/etc/facegate/facegate.json: unknown key 'lgo'",
           "/etc/facegate/facegate.json: server.io_threads: expected an integer from 1 to 64, got 0",
           "tls.server_addresses[0]: 'door.local' is not an IP address",
           "tls.renew_before_days",
           "listeners.device.port: expected an integer from 0 to 65535, got a string",
           "listeners.admin.address: 'localhost' is not an IPv4 or IPv6 address",
           "unknown key 'listeners.printer'",
       }) {
    EXPECT_THAT(m, HasSubstr(expected));
  }
}

TEST(DaemonOptionsTest, TwoListenersCannotShareAPort) {
  auto o = Parse(R"({"listeners": {"device": {"port": 9000}, "admin": {"port": 9000}}})");
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(),
              HasSubstr("listeners.admin.port: port 9000 is already used by listeners.device"));
  // Port 0 (any free port) may repeat; a disabled listener does not count.
  EXPECT_TRUE(Parse(R"({"listeners": {"device": {"port": 0}, "admin": {"port": 0}}})").ok());
  EXPECT_TRUE(Parse(R"({"listeners": {"admin": {"port": 8445}}})").ok());
}

TEST(DaemonOptionsTest, CertAndKeyGoTogether) {
  auto o = Parse(R"({"listeners": {"admin": {"cert_file": "a.crt"}}})");
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("listeners.admin.key_file"));
}

TEST(DaemonOptionsTest, LoadNamesAMissingFile) {
  testing::TempDir dir;
  auto o = LoadDaemonOptions(dir / "absent.json");
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr("absent.json"));
}

TEST(DaemonOptionsTest, LoadReportsJsonSyntaxWithPosition) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "f.json", "{\n \"log\": {\"level\": \"info\",}\n}").ok());
  auto o = LoadDaemonOptions(dir / "f.json");
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(), HasSubstr((dir / "f.json").string() + ":2:"));
}

TEST(DaemonOptionsTest, ShippedConfigsAreValid) {
  for (const char* name : {"config/facegate.json", "config/dev.json"}) {
    auto o = LoadDaemonOptions(testing::SourceDir() / name);
    EXPECT_TRUE(o.ok()) << name << ": " << o.status().ToString();
  }
}

}  // namespace
}  // namespace facegate::daemon
