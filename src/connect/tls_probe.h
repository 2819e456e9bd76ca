// ProbeTls: after Paho reports only "TCP/TLS connect failure", one plain OpenSSL attempt with
// the same CA, certificate and key tells which it was (private to src/connect): the broker
// cannot be reached (disconnected), or TCP works and a certificate was refused on one side
// (unauthorized), with OpenSSL's own reason. Blocking, bounded by `timeout` per step.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace facegate::connect::internal {

struct TlsProbeRequest {
  std::string host;
  uint16_t port = 8883;
  std::string ca_file, cert_file, key_file;
  std::chrono::milliseconds timeout{3000};
};

struct ProbeResult {
  enum class Stage {
    kTcp,  // no TCP connection (or the name does not resolve)
    kTls,  // TCP works; the TLS handshake (or the broker's verdict on our certificate) failed
    kOk,   // TLS works: whatever failed was above it
  };
  Stage stage = Stage::kTcp;
  std::string message;
};

ProbeResult ProbeTls(const TlsProbeRequest& request);

}  // namespace facegate::connect::internal
