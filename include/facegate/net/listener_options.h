// Options of one HTTPS listener (device, admin, enrollment), read from "listeners.<name>".
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "facegate/core/config.h"

namespace facegate::net {

struct ListenerOptions {
  std::string name;  // "device", "admin", "enrollment": used in logs and metrics
  bool enabled = true;
  std::string address = "127.0.0.1";  // an IPv4 or IPv6 literal; 0.0.0.0 / :: for all
  uint16_t port = 0;                  // 0 picks a free port (tests)
  // An admin-provided certificate chain and key (PEM). Empty: the daemon issues one from its
  // local CA. Both or neither.
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  int max_connections = 512;
  int max_header_bytes = 16 * 1024;
  int64_t max_body_bytes = 2 * 1024 * 1024;
  int handshake_timeout_ms = 5000;   // TCP accept to the end of the TLS handshake
  int request_timeout_ms = 10000;    // to receive one whole request
  int idle_timeout_ms = 30000;       // keep-alive: waiting for the next request
  int write_timeout_ms = 10000;      // to send one response
};

// Fills `options` from `section`; `options` arrives holding the listener's defaults.
void ParseListenerOptions(ConfigSection& section, ListenerOptions* options);

}  // namespace facegate::net
