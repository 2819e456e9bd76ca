// Black-box: facegated starts, serves health and metrics over TLS that verifies against its
// own CA, keeps its secrets with tight modes, stops cleanly on SIGTERM and SIGINT, and speaks
// systemd's notify and watchdog protocol to a test-owned NOTIFY_SOCKET.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "blackbox/facegated_fixture.h"
#include "facegate/net/pki.h"
#include "testing/notify_socket.h"

namespace facegate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// GET `target` on a fresh verified connection.
Result<HttpReply> Get(const FacegatedUnderTest& daemon, uint16_t port, const std::string& target) {
  auto client = daemon.Connect(port);
  if (!client.ok()) return client.status();
  return (*client)->Request("GET", target);
}

TEST(DaemonLifecycleTest, ServesHealthOverTlsVerifiedAgainstItsOwnCa) {
  FacegatedUnderTest daemon;
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  ASSERT_NE(daemon.device_port(), 0);
  ASSERT_NE(daemon.admin_port(), 0);
  ASSERT_NE(daemon.device_port(), daemon.admin_port());

  auto ca = net::InspectCertificatePem(daemon.ca_pem());
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  EXPECT_TRUE(ca->is_ca);

  for (uint16_t port : {daemon.device_port(), daemon.admin_port()}) {
    SCOPED_TRACE("port " + std::to_string(port));
    // The handshake fails unless the chain verifies against data_dir/pki/ca.crt.
    auto client = daemon.Connect(port);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    auto leaf = net::InspectCertificatePem((*client)->peer_certificate_pem());
    ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
    EXPECT_EQ(leaf->issuer, ca->subject);
    EXPECT_FALSE(leaf->is_ca);
    // Terminals know the server by IP: the address must be a SAN for the name check to pass.
    EXPECT_THAT(leaf->ip_addresses, ::testing::Contains("127.0.0.1"));

    auto health = (*client)->Request("GET", "/healthz");
    ASSERT_TRUE(health.ok()) << health.status().ToString();
    EXPECT_EQ(health->status, 200) << health->body;
    // Same connection again: keep-alive works.
    auto ready = (*client)->Request("GET", "/readyz");
    ASSERT_TRUE(ready.ok()) << ready.status().ToString();
    EXPECT_EQ(ready->status, 200) << ready->body;
    auto body = nlohmann::json::parse(ready->body, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(body.is_discarded()) << ready->body;
    EXPECT_EQ(body.value("status", ""), "ready") << ready->body;
  }

  // A client pinned to another CA must be refused.
  {
    TempDir other;
    auto other_ca =
        net::LocalCa::OpenOrCreate(other.path(), SystemClock::Instance(), std::chrono::hours(24));
    ASSERT_TRUE(other_ca.ok()) << other_ca.status().ToString();
    TlsClientOptions wrong;
    wrong.ca_pem = (*other_ca)->certificate_pem();
    auto refused = daemon.Connect(daemon.device_port(), wrong);
    EXPECT_FALSE(refused.ok());
  }

  auto metrics = Get(daemon, daemon.admin_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("facegate_build_info"));
  EXPECT_THAT(metrics->body, HasSubstr("facegate_uptime_seconds"));
  EXPECT_THAT(metrics->body, HasSubstr("facegate_http_requests_total"));
  // The requests made above were counted.
  EXPECT_THAT(metrics->body, HasSubstr("route=\"healthz\""));

  auto device_metrics = Get(daemon, daemon.device_port(), "/metrics");
  ASSERT_TRUE(device_metrics.ok()) << device_metrics.status().ToString();
  EXPECT_EQ(device_metrics->status, 404) << device_metrics->body;
  EXPECT_THAT(device_metrics->body, Not(HasSubstr("facegate_build_info")));

  auto exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
}

TEST(DaemonLifecycleTest, CreatesSecretsWithTightModes) {
  FacegatedUnderTest daemon;
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();

  EXPECT_EQ(ModeOf(daemon.data_dir()), 0750u);
  EXPECT_EQ(ModeOf(daemon.pki_dir()), 0700u);
  EXPECT_EQ(ModeOf(daemon.data_dir() / "keys"), 0700u);
  EXPECT_EQ(ModeOf(daemon.pki_dir() / "ca.key"), 0600u);
  EXPECT_EQ(ModeOf(daemon.pki_dir() / "server.key"), 0600u);
  // Certificates are public: terminals and admins read them.
  EXPECT_EQ(ModeOf(daemon.pki_dir() / "ca.crt"), 0644u);
  EXPECT_EQ(ModeOf(daemon.pki_dir() / "server.crt"), 0644u);
  auto template_key = daemon.data_dir() / "keys" / "template.key";
  EXPECT_EQ(ModeOf(template_key), 0600u);
  std::error_code ec;
  EXPECT_EQ(std::filesystem::file_size(template_key, ec), 32u) << ec.message();
  // Written atomically: no temporary files left behind.
  for (const auto& dir : {daemon.pki_dir(), daemon.data_dir() / "keys", daemon.dir()}) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr(".new")));
    }
  }
  // Secrets never reach the log.
  EXPECT_THAT(daemon.log(), Not(HasSubstr("PRIVATE KEY")));

  auto exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
}

TEST(DaemonLifecycleTest, TightensLooseModesOfAnExistingDataDir) {
  FacegatedUnderTest daemon;
  // Left behind by a careless restore or an admin's mkdir with a wide umask.
  std::filesystem::create_directories(daemon.pki_dir());
  std::filesystem::create_directories(daemon.data_dir() / "keys");
  std::filesystem::permissions(daemon.data_dir(), std::filesystem::perms::all);
  std::filesystem::permissions(daemon.pki_dir(), std::filesystem::perms::all);
  std::filesystem::permissions(daemon.data_dir() / "keys", std::filesystem::perms::all);
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  EXPECT_EQ(ModeOf(daemon.data_dir()), 0750u);
  EXPECT_EQ(ModeOf(daemon.pki_dir()), 0700u);
  EXPECT_EQ(ModeOf(daemon.data_dir() / "keys"), 0700u);
  auto exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
}

TEST(DaemonLifecycleTest, PortsFileNamesTheProcessAndEveryEnabledListener) {
  FacegatedUnderTest daemon;
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  auto doc = nlohmann::json::parse(ReadFileForTest(daemon.ports_file()), nullptr, false);
  ASSERT_TRUE(doc.is_object()) << ReadFileForTest(daemon.ports_file());
  EXPECT_EQ(doc.value("pid", 0), daemon.process().pid());
  ASSERT_TRUE(doc.contains("ports"));
  EXPECT_EQ(doc["ports"].size(), 2u) << doc.dump() << " (enrollment is disabled)";
  EXPECT_EQ(doc["ports"].value("device", 0), daemon.device_port());
  EXPECT_EQ(doc["ports"].value("admin", 0), daemon.admin_port());
  EXPECT_FALSE(std::filesystem::exists(daemon.dir() / "ports.json.new"));
  auto exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
}

TEST(DaemonLifecycleTest, EnabledEnrollmentListenerIsBoundAndAnnounced) {
  FacegatedUnderTest daemon;
  daemon.config()["listeners"]["enrollment"] = {
      {"enabled", true}, {"address", "127.0.0.1"}, {"port", 0}};
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  uint16_t enrollment = daemon.port("enrollment");
  ASSERT_NE(enrollment, 0) << ReadFileForTest(daemon.ports_file());
  EXPECT_NE(enrollment, daemon.device_port());
  EXPECT_NE(enrollment, daemon.admin_port());
  auto health = Get(daemon, enrollment, "/healthz");
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->status, 200);
  auto metrics = Get(daemon, enrollment, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_EQ(metrics->status, 404) << "metrics are for the admin listener only";
  auto exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
}

TEST(DaemonLifecycleTest, APortInUseFailsTheStartWithExitCodeOne) {
  FacegatedUnderTest first;
  ASSERT_TRUE(first.Start().ok()) << first.log();

  FacegatedUnderTest second;
  second.config()["listeners"]["device"]["port"] = first.device_port();
  second.WriteConfig();
  auto run = second.Run({"--config", second.config_path().string()});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << "the second daemon kept running:\n" << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 1") << run->output;
  EXPECT_THAT(run->output, HasSubstr(std::to_string(first.device_port())));
  EXPECT_FALSE(std::filesystem::exists(second.ports_file()));

  // The first one is unaffected.
  auto health = Get(first, first.device_port(), "/healthz");
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->status, 200);
  auto exit = first.Stop();
  ASSERT_TRUE(exit.has_value()) << first.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << first.log();
}

TEST(DaemonLifecycleTest, ADamagedCaStopsTheStartWithExitCodeOneAndIsKept) {
  FacegatedUnderTest daemon;
  daemon.WriteConfig();
  auto init = daemon.Run({"--init", "--config", daemon.config_path().string()});
  ASSERT_TRUE(init.ok() && init->exit.has_value()) << (init.ok() ? init->output : "");
  ASSERT_EQ(init->exit->ToString(), "exit code 0") << init->output;

  const std::string damaged = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n";
  WriteFileForTest(daemon.pki_dir() / "ca.crt", damaged);
  auto run = daemon.Run({"--config", daemon.config_path().string()}, std::chrono::seconds(10));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << "served with a damaged CA:\n" << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 1") << run->output;
  EXPECT_THAT(run->output, HasSubstr("ca.crt"));
  EXPECT_FALSE(std::filesystem::exists(daemon.ports_file()));
  // Never replaced: terminals pinned the old one, an admin must look.
  EXPECT_EQ(ReadFileForTest(daemon.pki_dir() / "ca.crt"), damaged);

  // A CA certificate without its key is damaged too.
  std::filesystem::remove(daemon.pki_dir() / "ca.crt");
  std::filesystem::remove(daemon.pki_dir() / "ca.key");
  init = daemon.Run({"--init", "--config", daemon.config_path().string()});
  ASSERT_TRUE(init.ok() && init->exit.has_value()) << (init.ok() ? init->output : "");
  ASSERT_EQ(init->exit->ToString(), "exit code 0") << init->output;
  std::string ca_pem = daemon.ca_pem();
  std::filesystem::remove(daemon.pki_dir() / "ca.key");
  run = daemon.Run({"--config", daemon.config_path().string()}, std::chrono::seconds(10));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << "served without the CA key:\n" << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 1") << run->output;
  EXPECT_THAT(run->output, HasSubstr("ca.key"));
  EXPECT_EQ(daemon.ca_pem(), ca_pem);
  EXPECT_FALSE(std::filesystem::exists(daemon.pki_dir() / "ca.key"));
}

TEST(DaemonLifecycleTest, ATemplateKeyOfTheWrongSizeIsRefusedAndKept) {
  FacegatedUnderTest daemon;
  std::filesystem::create_directories(daemon.data_dir() / "keys");
  const std::string short_key(16, 'k');
  WriteFileForTest(daemon.data_dir() / "keys" / "template.key", short_key);
  daemon.WriteConfig();
  auto run = daemon.Run({"--config", daemon.config_path().string()}, std::chrono::seconds(10));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << "served with a bad template key:\n" << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 1") << run->output;
  EXPECT_THAT(run->output, HasSubstr("template.key"));
  // Replacing it would make every stored template unreadable.
  EXPECT_EQ(ReadFileForTest(daemon.data_dir() / "keys" / "template.key"), short_key);
}

TEST(DaemonLifecycleTest, RestartWithTheSameDataDirKeepsTheCaAndTheTemplateKey) {
  FacegatedUnderTest daemon;
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  std::string first_ca_pem = daemon.ca_pem();
  auto first_ca = net::InspectCertificatePem(first_ca_pem);
  ASSERT_TRUE(first_ca.ok()) << first_ca.status().ToString();
  std::string first_template_key = ReadFileForTest(daemon.data_dir() / "keys" / "template.key");
  auto exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  ASSERT_EQ(exit->ToString(), "exit code 0") << daemon.log();

  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  auto second_ca = net::InspectCertificatePem(daemon.ca_pem());
  ASSERT_TRUE(second_ca.ok()) << second_ca.status().ToString();
  EXPECT_EQ(second_ca->sha256_fingerprint_hex, first_ca->sha256_fingerprint_hex);
  EXPECT_EQ(ReadFileForTest(daemon.data_dir() / "keys" / "template.key"), first_template_key);
  // A terminal that pinned the CA before the restart still connects.
  TlsClientOptions pinned;
  pinned.ca_pem = first_ca_pem;
  auto client = daemon.Connect(daemon.device_port(), pinned);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto health = (*client)->Request("GET", "/healthz");
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->status, 200);

  exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
}

TEST(DaemonLifecycleTest, RestartKeepsAStillValidServerCertificate) {
  FacegatedUnderTest daemon;
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  auto first = net::InspectCertificatePem(ReadFileForTest(daemon.pki_dir() / "server.crt"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();

  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  auto second = net::InspectCertificatePem(ReadFileForTest(daemon.pki_dir() / "server.crt"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->serial_hex, first->serial_hex) << "the server certificate was re-issued";

  // Another address in tls.server_addresses is not covered: a new certificate that has it.
  daemon.Stop();
  daemon.config()["tls"]["server_addresses"] = {"127.0.0.1", "10.11.12.13"};
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  auto client = daemon.Connect(daemon.device_port());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto served = net::InspectCertificatePem((*client)->peer_certificate_pem());
  ASSERT_TRUE(served.ok()) << served.status().ToString();
  EXPECT_NE(served->serial_hex, first->serial_hex);
  EXPECT_THAT(served->ip_addresses, ::testing::Contains("10.11.12.13"));
  exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
}

// Type=notify with WatchdogSec=: READY=1 naming the main pid once serving, WATCHDOG=1 pings
// from the event loop at half of WATCHDOG_USEC, RELOADING=1 then READY=1 around a SIGHUP
// reload (pings going on), STOPPING=1 when draining.
TEST(DaemonLifecycleTest, TellsSystemdReadyReloadingStoppingAndPingsItsWatchdog) {
  FacegatedUnderTest daemon;
  NotifySocket notify;
  ASSERT_TRUE(notify.Bind(daemon.dir() / "notify.sock").ok());
  daemon.env()["NOTIFY_SOCKET"] = notify.path().string();
  daemon.env()["WATCHDOG_USEC"] = "400000";
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  const std::string pid = std::to_string(daemon.process().pid());

  auto ready = notify.WaitFor("READY=1", std::chrono::seconds(20));
  ASSERT_TRUE(ready.has_value()) << daemon.log();
  EXPECT_TRUE(HasAssignment(*ready, "MAINPID=" + pid)) << *ready;
  EXPECT_TRUE(HasAssignment(*ready, "STATUS=serving")) << *ready;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(notify.WaitFor("WATCHDOG=1", std::chrono::seconds(20))) << "ping " << i;
  }
  EXPECT_THAT(daemon.log(), HasSubstr("systemd watchdog: 400 ms, pinged every 200 ms"));

  ASSERT_TRUE(daemon.process().Signal(SIGHUP));
  ASSERT_TRUE(notify.WaitFor("RELOADING=1", std::chrono::seconds(20))) << daemon.log();
  ASSERT_TRUE(notify.WaitFor("READY=1", std::chrono::seconds(20))) << daemon.log();
  ASSERT_TRUE(notify.WaitFor("WATCHDOG=1", std::chrono::seconds(20))) << "pings after reload";

  auto exit = daemon.Stop(SIGTERM, std::chrono::seconds(10));
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
  EXPECT_TRUE(notify.WaitFor("STOPPING=1", std::chrono::seconds(5)));
}

// No watchdog asked for (no WATCHDOG_USEC), or one meant for another process (WATCHDOG_PID, as
// systemd sets it for the main process only): no pings, and the rest of the protocol as usual.
TEST(DaemonLifecycleTest, PingsNoWatchdogThatIsNotItsOwn) {
  for (const bool other_pid : {false, true}) {
    SCOPED_TRACE(other_pid ? "WATCHDOG_PID of another process" : "no WATCHDOG_USEC");
    FacegatedUnderTest daemon;
    NotifySocket notify;
    ASSERT_TRUE(notify.Bind(daemon.dir() / "notify.sock").ok());
    daemon.env()["NOTIFY_SOCKET"] = notify.path().string();
    if (other_pid) {
      daemon.env()["WATCHDOG_USEC"] = "100000";
      daemon.env()["WATCHDOG_PID"] = "1";
    }
    ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
    ASSERT_TRUE(notify.WaitFor("READY=1", std::chrono::seconds(20))) << daemon.log();
    // A /healthz answer has gone through the event loop after the watchdog would have started.
    auto health = Get(daemon, daemon.admin_port(), "/healthz");
    ASSERT_TRUE(health.ok()) << health.status().ToString();
    ASSERT_TRUE(daemon.Stop(SIGTERM, std::chrono::seconds(10)).has_value()) << daemon.log();
    ASSERT_TRUE(notify.WaitFor("STOPPING=1", std::chrono::seconds(5)));
    for (const auto& m : notify.seen()) EXPECT_FALSE(HasAssignment(m, "WATCHDOG=1")) << m;
    EXPECT_THAT(daemon.log(), Not(HasSubstr("systemd watchdog")));
  }
}

// store.key_source "systemd-credentials": the unit's LoadCredential= hands the template key
// over in $CREDENTIALS_DIRECTORY (as systemd does: a private directory, the file 0400) and
// none is written to the data directory; without the variable the start is refused saying
// what to add to the unit.
TEST(DaemonLifecycleTest, TemplateKeyFromSystemdCredentials) {
  FacegatedUnderTest daemon;
  daemon.config()["store"]["key_source"] = "systemd-credentials";
  const std::filesystem::path credentials = daemon.dir() / "credentials";
  std::filesystem::create_directories(credentials);
  std::filesystem::permissions(credentials, std::filesystem::perms::owner_all);
  std::string key(32, '\0');
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(i * 37 + 11);
  WriteFileForTest(credentials / "template.key", key);
  std::filesystem::permissions(credentials / "template.key", std::filesystem::perms::owner_read);

  EXPECT_FALSE(daemon.Start().ok());
  auto refused = daemon.process().WaitForExit(std::chrono::seconds(10));
  ASSERT_TRUE(refused.has_value()) << daemon.log();
  EXPECT_EQ(refused->ToString(), "exit code 2") << daemon.log();
  EXPECT_THAT(daemon.log(), HasSubstr("CREDENTIALS_DIRECTORY"));
  EXPECT_THAT(daemon.log(), HasSubstr("LoadCredential=template.key"));

  daemon.env()["CREDENTIALS_DIRECTORY"] = credentials.string();
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  auto ready = Get(daemon, daemon.admin_port(), "/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status().ToString();
  EXPECT_EQ(ready->status, 200) << ready->body;
  EXPECT_FALSE(std::filesystem::exists(daemon.data_dir() / "keys"))
      << "with credentials, no key is written to the data directory";
  ASSERT_TRUE(daemon.Stop(SIGTERM).has_value());
}

TEST(DaemonLifecycleTest, SigtermDrainsExitsZeroAndClosesThePorts) {
  FacegatedUnderTest daemon;
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  uint16_t device = daemon.device_port();
  uint16_t admin = daemon.admin_port();

  auto started = std::chrono::steady_clock::now();
  // Bound: drain_timeout_ms (2 s) plus generous slack for a loaded machine.
  auto exit = daemon.Stop(SIGTERM, std::chrono::seconds(10));
  ASSERT_TRUE(exit.has_value()) << "still running 10 s after SIGTERM; log:\n" << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_THAT(daemon.log(), HasSubstr("draining"));
  EXPECT_THAT(daemon.log(), HasSubstr("stopped"));
  EXPECT_FALSE(std::filesystem::exists(daemon.ports_file()))
      << "a clean exit removes the ports file: its ports are no longer bound";

  for (uint16_t port : {device, admin}) {
    int fd = ConnectTcp("127.0.0.1", port);
    EXPECT_LT(fd, 0) << "port " << port << " still accepts connections";
    if (fd >= 0) ::close(fd);
  }
}

TEST(DaemonLifecycleTest, SigintExitsZero) {
  FacegatedUnderTest daemon;
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  uint16_t device = daemon.device_port();
  auto exit = daemon.Stop(SIGINT, std::chrono::seconds(10));
  ASSERT_TRUE(exit.has_value()) << "still running 10 s after SIGINT; log:\n" << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
  int fd = ConnectTcp("127.0.0.1", device);
  EXPECT_LT(fd, 0);
  if (fd >= 0) ::close(fd);
}

TEST(DaemonLifecycleTest, SigtermClosesIdleKeepAliveConnectionsAndExitsPromptly) {
  FacegatedUnderTest daemon;
  // Idle connections would otherwise live for a minute: only the drain can close them.
  for (const char* listener : {"device", "admin"}) {
    daemon.config()["listeners"][listener]["idle_timeout_ms"] = 60000;
    daemon.config()["listeners"][listener]["request_timeout_ms"] = 60000;
  }
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();

  TlsClientOptions options = daemon.VerifyingClientOptions();
  options.timeout = std::chrono::seconds(20);
  auto idle = daemon.Connect(daemon.device_port(), options);
  ASSERT_TRUE(idle.ok()) << idle.status().ToString();
  auto health = (*idle)->Request("GET", "/healthz");
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  ASSERT_EQ(health->status, 200);
  ASSERT_TRUE(health->keep_alive);
  // A connection that finished its handshake but never sent a request.
  auto silent = daemon.Connect(daemon.admin_port(), options);
  ASSERT_TRUE(silent.ok()) << silent.status().ToString();

  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(daemon.process().Signal(SIGTERM));
  // The drain itself must end these connections with a TLS close_notify. Were they left to
  // the process exit, the client would read a bare EOF, which OpenSSL reports as "unexpected
  // eof while reading" (a terminal would log a truncated connection).
  for (auto* client : {idle->get(), silent->get()}) {
    auto waited_from = std::chrono::steady_clock::now();
    auto reply = client->ReadResponse();
    ASSERT_FALSE(reply.ok()) << "an answer nobody asked for";
    EXPECT_LT(std::chrono::steady_clock::now() - waited_from, std::chrono::seconds(15))
        << "the connection was not closed (client read timed out)";
    EXPECT_THAT(reply.status().message(), HasSubstr("connection closed"));
    EXPECT_THAT(reply.status().message(), Not(HasSubstr("unexpected eof")))
        << "closed without close_notify: not by the drain";
  }
  auto exit = daemon.process().WaitForExit(std::chrono::seconds(10));
  ASSERT_TRUE(exit.has_value()) << "still running 10 s after SIGTERM; log:\n" << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
  // Idle connections are not requests in flight: the drain must not wait for its bound.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_THAT(daemon.log(), Not(HasSubstr("drain timeout")));
}

}  // namespace
}  // namespace facegate::testing
