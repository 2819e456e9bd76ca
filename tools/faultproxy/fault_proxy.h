// FaultProxy: a TCP proxy on loopback that puts faults between facegated and a peer (the
// SHIP simulator, the MQTT broker) for the robustness tests (issue 13, docs/robustness.md):
//
//   pass       bytes forwarded both ways as they come
//   delay      each chunk held `delay` before it is forwarded (both directions)
//   blackhole  connections accepted, bytes read and dropped, nothing answered, never closed
//              (a peer that hangs)
//   truncate   the peer's answer cut after `truncate_after` bytes, then both sides closed
//   reset      connections accepted and reset at once (RST)
//
// A mode applies to the connections accepted after it is set; ResetAll() resets the ones open.
// Listens on 127.0.0.1 (port 0: the kernel picks) and connects to the target given.
// Thread-safety: all methods may be called from any thread; one I/O thread of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "facegate/core/status.h"

namespace facegate::faultproxy {

enum class Mode { kPass, kDelay, kBlackhole, kTruncate, kReset };

struct Fault {
  Mode mode = Mode::kPass;
  std::chrono::milliseconds delay{0};  // kDelay
  uint64_t truncate_after = 0;         // kTruncate: bytes of the peer's answer let through
};

// "pass", "delay 500", "blackhole", "truncate 100", "reset"; an error names what is wrong.
Result<Fault> ParseFault(const std::string& text);
std::string FaultName(const Fault& f);

struct ProxyCounts {
  uint64_t connections = 0;        // accepted
  uint64_t upstream_failures = 0;  // the target could not be reached
  uint64_t bytes_to_target = 0;
  uint64_t bytes_to_client = 0;
  uint64_t open = 0;  // connections open now
};

class FaultProxy {
 public:
  FaultProxy(std::string target_host, uint16_t target_port, uint16_t listen_port = 0);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  Status Start();
  void Stop();
  uint16_t port() const;  // the bound port, after Start

  void SetFault(const Fault& fault);
  Fault fault() const;
  void ResetAll();  // every open connection reset (RST) now
  ProxyCounts counts() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace facegate::faultproxy
