// The terminal simulator (docs/devsim.md): N door terminals in one process, on one Asio
// io_context, each with a key and client certificate of its own obtained by commissioning
// with a one-time code, sending heartbeats and captures over real mTLS to facegated's device
// listener, one connection per call as a terminal that sleeps between captures does. Each
// answer is checked against the decision the capture should get; the run's figures (latency
// percentiles, decisions by reason, mismatches, errors, the server's own stage timings, the
// server's CPU and peak RSS from /proc) come out as a report.
// Thread-safety: a Simulation is used from one thread; its work runs on its own threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "facegate/core/status.h"

namespace facegate::devsim {

// A capture to send and what the server must answer for it at the simulated door.
struct Capture {
  std::string label;  // for the report, e.g. "ada/crop2/q60"
  std::string jpeg;
  std::string expect_decision;  // "grant" or "deny"
  std::string expect_reason;    // "" : any reason with that decision
};

// Reads a capture list: a JSON array of {"file", "expect", "reason"?, "label"?}, files
// relative to the list's directory.
Result<std::vector<Capture>> LoadCaptures(const std::string& path);

enum class Shape {
  kBurst,      // each terminal sends one capture at a random moment of the window
  kSustained,  // `rate` captures a second, spread over the terminals, for `duration`
  kRamp,       // the rate grows by `ramp_step` every `ramp_step_time` until p99 > the bound
};

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string ca_pem;              // the server's CA (what a terminal pins)
  std::vector<std::string> codes;  // one commissioning code per terminal
  // Or: codes obtained through the admin API. With admin_port set and `codes` empty,
  // `create_terminals` devices named "<name_prefix>-<n>" are created at `door` (a device of
  // that name left by an earlier run gets a new code instead) with the bearer `admin_token`
  // (an operator's); the admin listener's certificate is checked against the same CA.
  uint16_t admin_port = 0;
  std::string admin_token;
  std::string door;
  int create_terminals = 0;
  std::string name_prefix = "devsim";
  Shape shape = Shape::kBurst;
  std::chrono::milliseconds window{10000};    // burst
  double rate = 10;                           // sustained, and the ramp's first rate
  std::chrono::milliseconds duration{60000};  // sustained
  double ramp_step = 10;
  std::chrono::milliseconds ramp_step_time{10000};
  double p99_bound_ms = 2000;  // ramp: the knee is the last rate whose p99 stays within it
  int threads = 2;
  std::chrono::milliseconds timeout{5000};  // per call
  std::chrono::milliseconds heartbeat_interval{30000};
  int server_pid = 0;  // read /proc/<pid> during the run; 0: not
  uint64_t seed = 1;
  bool progress = false;  // a progress line on stderr
};

// Commissions the terminals, runs the load shape, and returns the report (a JSON object;
// docs/devsim.md lists its fields). Fails only when the run could not happen at all (no
// terminal could be commissioned, no captures); failed calls are counted in the report.
Result<nlohmann::json> Run(const Options& options, const std::vector<Capture>& captures);

// The report as a few lines for a person.
std::string Summary(const nlohmann::json& report);

}  // namespace facegate::devsim
