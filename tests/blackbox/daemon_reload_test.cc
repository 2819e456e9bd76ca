// Black-box: SIGHUP re-reads the configuration. Admin-provided certificates are swapped in for
// new connections while established ones keep working; the log level changes at once; a
// broken file or certificate is logged and the running configuration kept.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "blackbox/facegated_fixture.h"
#include "facegate/core/clock.h"
#include "facegate/net/pki.h"

namespace facegate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kReloadBound = std::chrono::seconds(10);

// A daemon whose admin listener serves a certificate from a CA of the test's own, read from
// admin.crt / admin.key next to the config file.
class DaemonReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = net::LocalCa::OpenOrCreate(daemon_.dir() / "test-ca", SystemClock::Instance(),
                                         std::chrono::hours(24 * 30));
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    test_ca_ = std::move(ca).value();
    first_serial_ = WriteNewAdminCertificate();
    ASSERT_FALSE(first_serial_.empty());

    auto& listeners = daemon_.config()["listeners"];
    listeners["admin"]["cert_file"] = "admin.crt";
    listeners["admin"]["key_file"] = "admin.key";
    // Keep-alive connections held by the tests must outlive every bounded wait here.
    listeners["admin"]["idle_timeout_ms"] = 60000;
    ASSERT_TRUE(daemon_.Start().ok()) << daemon_.log();
  }

  void TearDown() override {
    if (!daemon_.process().running()) return;
    auto exit = daemon_.Stop();
    ASSERT_TRUE(exit.has_value()) << daemon_.log();
    EXPECT_EQ(exit->ToString(), "exit code 0") << daemon_.log();
  }

  // Issues a fresh pair from the test CA, writes it to admin.crt / admin.key (each replaced
  // by rename) and returns its serial.
  std::string WriteNewAdminCertificate() {
    net::ServerCertificateRequest request;
    request.common_name = "facegate-admin";
    request.ip_addresses = {"127.0.0.1"};
    request.validity = std::chrono::hours(24);
    auto pair = test_ca_->IssueServerCertificate(request);
    if (!pair.ok()) {
      ADD_FAILURE() << pair.status().ToString();
      return "";
    }
    WriteFileForTest(daemon_.dir() / "admin.crt", pair->certificate_pem);
    WriteFileForTest(daemon_.dir() / "admin.key", pair->private_key_pem);
    auto info = net::InspectCertificatePem(pair->certificate_pem);
    if (!info.ok()) {
      ADD_FAILURE() << info.status().ToString();
      return "";
    }
    return info->serial_hex;
  }

  TlsClientOptions AdminClientOptions() const {
    TlsClientOptions options;
    options.ca_pem = test_ca_->certificate_pem();
    return options;
  }

  Result<std::unique_ptr<TlsClient>> ConnectAdmin() const {
    return daemon_.Connect(daemon_.admin_port(), AdminClientOptions());
  }

  // The serial of the certificate a new admin connection is served; "" when none connects.
  std::string ServedAdminSerial() const {
    auto client = ConnectAdmin();
    if (!client.ok()) return "";
    auto info = net::InspectCertificatePem((*client)->peer_certificate_pem());
    return info.ok() ? info->serial_hex : "";
  }

  // /healthz and /readyz answer 200 on both listeners, on new connections.
  void ExpectHealthy() const {
    auto admin = ConnectAdmin();
    ASSERT_TRUE(admin.ok()) << admin.status().ToString() << "\n" << daemon_.log();
    auto device = daemon_.Connect(daemon_.device_port());
    ASSERT_TRUE(device.ok()) << device.status().ToString() << "\n" << daemon_.log();
    for (auto* client : {admin->get(), device->get()}) {
      for (const char* target : {"/healthz", "/readyz"}) {
        auto reply = client->Request("GET", target);
        ASSERT_TRUE(reply.ok()) << target << ": " << reply.status().ToString();
        EXPECT_EQ(reply->status, 200) << target << ": " << reply->body;
      }
    }
  }

  FacegatedUnderTest daemon_;
  std::unique_ptr<net::LocalCa> test_ca_;
  std::string first_serial_;
};

TEST_F(DaemonReloadTest, ServesTheAdminProvidedCertificate) {
  EXPECT_EQ(ServedAdminSerial(), first_serial_);
  // The device listener keeps the daemon's own certificate.
  auto device = daemon_.Connect(daemon_.device_port());
  ASSERT_TRUE(device.ok()) << device.status().ToString();
  ExpectHealthy();
}

TEST_F(DaemonReloadTest, SighupSwapsInANewCertificateWithoutDroppingConnections) {
  auto kept = ConnectAdmin();
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  auto before = (*kept)->Request("GET", "/healthz");
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_EQ(before->status, 200);
  ASSERT_TRUE(before->keep_alive);

  std::string second_serial = WriteNewAdminCertificate();
  ASSERT_FALSE(second_serial.empty());
  ASSERT_NE(second_serial, first_serial_);
  ASSERT_TRUE(daemon_.process().Signal(SIGHUP));

  std::string served;
  EXPECT_TRUE(PollUntil(
      [&] {
        served = ServedAdminSerial();
        return served == second_serial;
      },
      kReloadBound))
      << "new connections still get serial " << served << " (want " << second_serial << "); log:\n"
      << daemon_.log();
  EXPECT_TRUE(daemon_.WaitForLog("reloaded")) << daemon_.log();

  // The connection made before the reload still works, on its original certificate.
  auto after = (*kept)->Request("GET", "/healthz");
  ASSERT_TRUE(after.ok()) << "the kept connection broke: " << after.status().ToString();
  EXPECT_EQ(after->status, 200);
  auto kept_info = net::InspectCertificatePem((*kept)->peer_certificate_pem());
  ASSERT_TRUE(kept_info.ok());
  EXPECT_EQ(kept_info->serial_hex, first_serial_);

  ExpectHealthy();
  EXPECT_THAT(daemon_.log(), Not(HasSubstr("reload failed")));
}

TEST_F(DaemonReloadTest, SighupWithABrokenConfigFileKeepsServing) {
  auto kept = ConnectAdmin();
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();

  // New certificate files, but a config file that does not parse: nothing may change.
  std::string second_serial = WriteNewAdminCertificate();
  ASSERT_FALSE(second_serial.empty());
  WriteFileForTest(daemon_.config_path(), "{ \"data_dir\": \"data\",\n  \"log\": { oops }\n}\n");
  ASSERT_TRUE(daemon_.process().Signal(SIGHUP));

  ASSERT_TRUE(daemon_.WaitForLog("reload failed")) << daemon_.log();
  // The message says which file and where.
  EXPECT_THAT(daemon_.log(), HasSubstr(daemon_.config_path().string() + ":2:"));
  EXPECT_FALSE(daemon_.process().WaitForExit(std::chrono::milliseconds(0)).has_value())
      << daemon_.log();
  EXPECT_EQ(ServedAdminSerial(), first_serial_);
  auto reply = (*kept)->Request("GET", "/healthz");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200);
  ExpectHealthy();

  // Once the file is fixed, the next SIGHUP applies it.
  daemon_.WriteConfig();
  ASSERT_TRUE(daemon_.process().Signal(SIGHUP));
  std::string served;
  EXPECT_TRUE(PollUntil(
      [&] {
        served = ServedAdminSerial();
        return served == second_serial;
      },
      kReloadBound))
      << "serial " << served << " after fixing the config; log:\n"
      << daemon_.log();
}

TEST_F(DaemonReloadTest, SighupWithAMismatchedKeyKeepsTheOldCertificate) {
  // The certificate of one new pair with the key of another: the swap must not happen.
  std::string second_serial = WriteNewAdminCertificate();
  std::string second_cert = ReadFileForTest(daemon_.dir() / "admin.crt");
  ASSERT_FALSE(WriteNewAdminCertificate().empty());
  WriteFileForTest(daemon_.dir() / "admin.crt", second_cert);
  ASSERT_TRUE(daemon_.process().Signal(SIGHUP));

  ASSERT_TRUE(daemon_.WaitForLog("reload failed")) << daemon_.log();
  EXPECT_THAT(daemon_.log(), HasSubstr("admin.crt"));
  EXPECT_EQ(ServedAdminSerial(), first_serial_);
  ExpectHealthy();
}

TEST_F(DaemonReloadTest, AFailedReloadChangesNothingAtAll) {
  // One SIGHUP carrying two changes: a new log level and a certificate whose key is missing.
  // The daemon says it keeps the running configuration; the log level must stay too.
  daemon_.config()["log"]["level"] = "debug";
  daemon_.config()["listeners"]["admin"]["key_file"] = "missing.key";
  daemon_.WriteConfig();
  ASSERT_TRUE(daemon_.process().Signal(SIGHUP));
  ASSERT_TRUE(daemon_.WaitForLog("reload failed")) << daemon_.log();
  EXPECT_THAT(daemon_.log(), HasSubstr("missing.key"));
  EXPECT_EQ(ServedAdminSerial(), first_serial_);

  ExpectHealthy();
  // Answered requests are logged at debug only: still at info, there must be none.
  auto log = daemon_.log();
  EXPECT_THAT(log, Not(HasSubstr("log level is now debug")));
  EXPECT_THAT(log, Not(HasSubstr("route=healthz status=200")));
}

TEST_F(DaemonReloadTest, SighupReissuesTheGeneratedCertificateForNewAddresses) {
  auto before = daemon_.Connect(daemon_.device_port());
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  auto first = net::InspectCertificatePem((*before)->peer_certificate_pem());
  ASSERT_TRUE(first.ok());
  ASSERT_THAT(first->ip_addresses, Not(::testing::Contains("10.20.30.40")));

  daemon_.config()["tls"]["server_addresses"] = {"127.0.0.1", "10.20.30.40"};
  daemon_.WriteConfig();
  ASSERT_TRUE(daemon_.process().Signal(SIGHUP));

  std::vector<std::string> served;
  EXPECT_TRUE(PollUntil(
      [&] {
        auto client = daemon_.Connect(daemon_.device_port());
        if (!client.ok()) return false;
        auto info = net::InspectCertificatePem((*client)->peer_certificate_pem());
        if (!info.ok()) return false;
        served = info->ip_addresses;
        return std::find(served.begin(), served.end(), "10.20.30.40") != served.end();
      },
      kReloadBound))
      << "the device listener still serves a certificate without the new address; log:\n"
      << daemon_.log();
  // Still from the daemon's own CA, and written to disk for the next start.
  auto on_disk = net::InspectCertificatePem(ReadFileForTest(daemon_.pki_dir() / "server.crt"));
  ASSERT_TRUE(on_disk.ok());
  EXPECT_THAT(on_disk->ip_addresses, ::testing::Contains("10.20.30.40"));
  auto kept = (*before)->Request("GET", "/healthz");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->status, 200);
  // The admin listener keeps its admin-provided certificate.
  EXPECT_EQ(ServedAdminSerial(), first_serial_);
}

TEST_F(DaemonReloadTest, SighupLogsThatAPortChangeNeedsARestart) {
  uint16_t admin_port = daemon_.admin_port();
  // A port no test binds: the listener must stay where it is.
  daemon_.config()["listeners"]["admin"]["port"] = 1;
  daemon_.WriteConfig();
  ASSERT_TRUE(daemon_.process().Signal(SIGHUP));
  ASSERT_TRUE(daemon_.WaitForLog("listeners.admin: address, port or enabled changed"))
      << daemon_.log();
  EXPECT_THAT(daemon_.log(), Not(HasSubstr("listeners.device: address")));
  EXPECT_EQ(daemon_.admin_port(), admin_port);
  EXPECT_EQ(ServedAdminSerial(), first_serial_);
  ExpectHealthy();
}

TEST_F(DaemonReloadTest, SighupChangesTheLogLevel) {
  // At info, answered requests are not logged.
  ExpectHealthy();
  EXPECT_THAT(daemon_.log(), Not(HasSubstr("route=healthz status=200")));

  daemon_.config()["log"]["level"] = "debug";
  daemon_.WriteConfig();
  ASSERT_TRUE(daemon_.process().Signal(SIGHUP));
  ASSERT_TRUE(daemon_.WaitForLog("log level is now debug")) << daemon_.log();

  ExpectHealthy();
  EXPECT_TRUE(daemon_.WaitForLog("route=healthz status=200")) << daemon_.log();
}

}  // namespace
}  // namespace facegate::testing
