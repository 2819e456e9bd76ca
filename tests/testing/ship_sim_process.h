// SimProcess: the SHIP simulator (tools/ship-sim, docs/ship-sim.md) run as a child process
// for a test: started on loopback ports chosen by the system, with a data file and a key,
// stopped (and reaped) with the object; it also stops by itself after ten minutes. Control
// requests go to its /_sim/ endpoints over TLS, verified against its CA.
// Thread-safety: none; use from the test's thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "facegate/core/files.h"
#include "testing/process.h"
#include "testing/temp_dir.h"
#include "testing/tls_client.h"

namespace facegate::testing {

class SimProcess {
 public:
  // `data`: the data file's JSON; `key`: the Salto-SHIP-Key it expects.
  SimProcess(const std::string& data, const std::string& key,
             const std::vector<std::string>& extra = {})
      : key_(key) {
    std::ofstream(dir_ / "data.json") << data;
    std::vector<std::string> argv = {(BinaryDir() / "tools" / "facegate-ship-sim").string(),
                                     "--state-dir",
                                     dir_.path().string(),
                                     "--data",
                                     (dir_ / "data.json").string(),
                                     "--api-key",
                                     key,
                                     "--stp-port",
                                     "0",
                                     "--ready-file",
                                     (dir_ / "ready.json").string(),
                                     "--exit-after",
                                     "600",
                                     "--log-level",
                                     "warn"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Status s = process_.Start(argv, dir_ / "sim.log");
    EXPECT_TRUE(s.ok()) << s.ToString();
    for (int i = 0; i < 1000 && !std::filesystem::exists(dir_ / "ready.json"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto text = ReadFile(dir_ / "ready.json");
    EXPECT_TRUE(text.ok()) << "the simulator did not start: " << process_.ReadLog();
    if (text.ok()) ready_ = nlohmann::json::parse(*text);
    auto ca = ReadFile(ca_file());
    if (ca.ok()) ca_pem_ = *ca;
  }

  const std::string& key() const { return key_; }
  uint16_t https_port() const { return ready_.value("https_port", 0); }
  uint16_t stp_port() const { return ready_.value("stp_port", 0); }
  std::string fingerprint() const { return ready_.value("fingerprint", ""); }
  std::filesystem::path ca_file() const { return ready_.value("ca_file", ""); }
  const std::filesystem::path& dir() const { return dir_.path(); }

  // A control request (JSON); the answer's JSON.
  nlohmann::json Control(const std::string& method, const std::string& path,
                         const nlohmann::json& body = nullptr) {
    TlsClientOptions o;
    o.ca_pem = ca_pem_;
    auto client = TlsClient::Connect("127.0.0.1", https_port(), o);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (!client.ok()) return nullptr;
    auto r = (*client)->Request(method, "/_sim" + path, body.is_null() ? "" : body.dump(),
                                {{"Content-Type", "application/json"}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    EXPECT_LT(r->status, 300) << r->body;
    return nlohmann::json::parse(r->body, nullptr, false);
  }
  void Fault(nlohmann::json fault) { Control("POST", "/fault", fault); }
  size_t Openings() { return Control("GET", "/openings")["openings"].size(); }

 private:
  TempDir dir_;
  std::string key_;
  ChildProcess process_;
  nlohmann::json ready_ = nlohmann::json::object();
  std::string ca_pem_;
};

}  // namespace facegate::testing
