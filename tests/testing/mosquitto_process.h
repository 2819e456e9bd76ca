// Broker: Debian's mosquitto run as a child process for a test, standing in for the vendor's
// cloud broker. It listens on 127.0.0.1 only, TLS only, with a CA, server certificate and
// client certificates generated for the test (openssl), and `require_certificate true`: a
// client without a certificate from that CA is refused in the TLS handshake. The port is
// chosen free at construction and kept across Stop/Start (a broker restart). Also: an
// Observer, a Paho client of the test's own that records every message on facegate/#.
//
// A missing mosquitto is a test failure when CI=true, and a loud skip elsewhere
// (BrokerAvailable()).
// Thread-safety: none; use from the test's thread (Observer's queue is thread-safe).
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <mqtt/async_client.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "testing/process.h"
#include "testing/temp_dir.h"

namespace facegate::testing {

inline constexpr const char* kMosquitto = "/usr/sbin/mosquitto";

// True when the broker can run here. Under CI=true a missing broker fails the calling test.
inline bool BrokerAvailable() {
  if (std::filesystem::exists(kMosquitto)) return true;
  const char* ci = std::getenv("CI");
  if (ci && std::string(ci) == "true") {
    ADD_FAILURE() << kMosquitto << " is missing: scripts/setup installs mosquitto";
  } else {
    std::fprintf(stderr,
                 "\n*** SKIPPED: %s is missing (scripts/setup installs it); the cloud-link "
                 "tests did not run ***\n\n",
                 kMosquitto);
  }
  return false;
}

// A port nobody listens on now (bound to 0, read, closed).
inline uint16_t FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

inline bool CanConnect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

class Broker {
 public:
  Broker() {
    const auto d = dir_.path().string();
    // The cloud's CA, the broker's certificate for 127.0.0.1, a client certificate from the
    // cloud's CA, and one from another CA (refused).
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        "set -e; cd " + d +
        ";"
        "openssl req -x509 " +
        ec +
        " -keyout ca.key -out ca.crt -days 2 -subj /CN=test-cloud-ca"
        " 2>/dev/null;"
        "openssl req -x509 " +
        ec +
        " -keyout other-ca.key -out other-ca.crt -days 2"
        " -subj /CN=another-ca 2>/dev/null;"
        "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext;"
        "printf 'extendedKeyUsage=clientAuth\\n' > client.ext;"
        "openssl req " +
        ec +
        " -keyout server.key -out server.csr -subj /CN=127.0.0.1"
        " 2>/dev/null;"
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
        " -extfile server.ext -out server.crt 2>/dev/null;"
        "openssl req " +
        ec +
        " -keyout client.key -out client.csr -subj /CN=facegate-site"
        " 2>/dev/null;"
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
        " -extfile client.ext -out client.crt 2>/dev/null;"
        "openssl req " +
        ec +
        " -keyout observer.key -out observer.csr -subj /CN=observer"
        " 2>/dev/null;"
        "openssl x509 -req -in observer.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
        " -extfile client.ext -out observer.crt 2>/dev/null;"
        "openssl req " +
        ec +
        " -keyout wrong.key -out wrong.csr -subj /CN=facegate-site"
        " 2>/dev/null;"
        "openssl x509 -req -in wrong.csr -CA other-ca.crt -CAkey other-ca.key -CAcreateserial"
        " -days 2 -extfile client.ext -out wrong.crt 2>/dev/null;"
        "chmod 600 *.key";
    EXPECT_EQ(std::system(script.c_str()), 0) << "generating the broker's certificates failed";
    port_ = FreeLoopbackPort();
    std::ofstream(dir_ / "mosquitto.conf")
        << "user root\n"  // run as the test's user: no privilege drop that cannot read dir_
        // Sessions survive a restart: the observer's subscription and what was queued for it.
        << "persistence true\n"
        << "persistence_location " << d << "/\n"
        << "autosave_interval 1\n"
        << "log_dest file " << d << "/mosquitto.log\n"
        << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        << "connection_messages true\n"
        << "listener " << port_ << " 127.0.0.1\n"
        << "cafile " << d << "/ca.crt\n"
        << "certfile " << d << "/server.crt\n"
        << "keyfile " << d << "/server.key\n"
        << "require_certificate true\n"
        << "use_identity_as_username true\n"
        << "allow_anonymous false\n";
    Start();
  }
  ~Broker() { Stop(); }
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  void Start() {
    Status s =
        process_.Start({kMosquitto, "-c", (dir_ / "mosquitto.conf").string()}, dir_ / "stdout.log");
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (int i = 0; i < 500 && !CanConnect(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(CanConnect(port_)) << "mosquitto did not start: " << Log();
  }
  void Stop() {
    if (!process_.running()) return;
    process_.Signal(SIGTERM);
    if (!process_.WaitForExit(std::chrono::seconds(10))) {
      process_.Signal(SIGKILL);
      process_.WaitForExit(std::chrono::seconds(10));
    }
  }
  bool running() { return process_.running(); }

  uint16_t port() const { return port_; }
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }
  std::string Log() const {
    std::ifstream in(dir_ / "mosquitto.log");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  // The `connect` integration's settings for this broker (the right client certificate).
  nlohmann::json Settings(const std::string& server_id) const {
    return {{"host", "127.0.0.1"},
            {"port", port_},
            {"ca_file", file("ca.crt").string()},
            {"cert_file", file("client.crt").string()},
            {"key_file", file("client.key").string()},
            {"server_id", server_id},
            {"keep_alive_s", 5},
            {"reconnect_min_s", 1},
            {"reconnect_max_s", 2},
            {"connect_timeout_s", 5}};
  }

 private:
  TempDir dir_;
  uint16_t port_ = 0;
  ChildProcess process_;
};

// Everything published on facegate/# as the test's own subscriber sees it.
class Observer {
 public:
  struct Message {
    std::string topic;
    std::string payload;
    bool retained = false;
  };

  explicit Observer(const Broker& broker)
      : client_("ssl://127.0.0.1:" + std::to_string(broker.port()), "test-observer", nullptr) {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      std::lock_guard lock(mu_);
      messages_.push_back({m->get_topic(), m->get_payload_str(), m->is_retained()});
    });
    auto ssl = mqtt::ssl_options_builder()
                   .trust_store(broker.file("ca.crt").string())
                   .key_store(broker.file("observer.crt").string())
                   .private_key(broker.file("observer.key").string())
                   .finalize();
    auto options =
        mqtt::connect_options_builder()
            .mqtt_version(MQTTVERSION_3_1_1)
            .clean_session(false)
            .automatic_reconnect(std::chrono::milliseconds(200), std::chrono::milliseconds(500))
            .ssl(std::move(ssl))
            .finalize();
    client_.set_connected_handler([this](const std::string&) {
      try {
        client_.subscribe("facegate/#", 1);
      } catch (const mqtt::exception&) {
      }
    });
    try {
      client_.connect(options)->wait_for(std::chrono::seconds(10));
      client_.subscribe("facegate/#", 1)->wait_for(std::chrono::seconds(10));
    } catch (const mqtt::exception& e) {
      ADD_FAILURE() << "the observer could not connect: " << e.what();
    }
  }
  ~Observer() {
    try {
      client_.disconnect()->wait_for(std::chrono::seconds(2));
    } catch (const mqtt::exception&) {
    }
  }

  // A command as the cloud sends it.
  void Publish(const std::string& topic, const std::string& payload) {
    client_.publish(topic, payload, 1, false)->wait_for(std::chrono::seconds(5));
  }

  std::vector<Message> Messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return messages_.size();
  }
  // Waits (up to `timeout`) for a message on `topic` for which `want` holds, among those
  // received from the `from`-th on; returns it.
  std::optional<Message> WaitFor(const std::string& topic,
                                 const std::function<bool(const nlohmann::json&)>& want,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                 size_t from = 0) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    size_t seen = from;
    while (std::chrono::steady_clock::now() < end) {
      auto all = Messages();
      for (; seen < all.size(); ++seen) {
        if (all[seen].topic != topic) continue;
        auto j = nlohmann::json::parse(all[seen].payload, nullptr, false);
        if (want(j)) return all[seen];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }

 private:
  mqtt::async_client client_;
  std::mutex mu_;
  std::vector<Message> messages_;
};

}  // namespace facegate::testing
