// The simulator's listeners (docs/ship-sim.md): SHIP over HTTPS, and over STP framing (TLS or
// plain TCP), plus the JSON control endpoints under /_sim/ on the HTTPS listener. What a SHIP
// request gets back is SimState's decision (sim_state.h); this layer reads and writes bytes,
// checks the HTTP side (method, content type, authentication, size) and carries out the
// connection-level faults: hang, drop, slow and down.
// Thread-safety: Start, ApplyFault and Stop may be called from any thread; everything else runs
// on the server's one I/O thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "facegate/core/status.h"
#include "ship-sim/sim_state.h"

namespace facegate::shipsim {

struct SimServerOptions {
  enum class Auth { kKey, kBasic };

  std::string address = "127.0.0.1";
  uint16_t https_port = 0;  // 0: any free port
  bool stp = false;
  uint16_t stp_port = 0;
  bool stp_plain = false;  // STP over plain TCP instead of TLS

  Auth auth = Auth::kKey;
  std::string api_key;  // "": any non-empty Salto-SHIP-Key is accepted
  std::string basic_user, basic_password;

  std::string certificate_pem;  // leaf first; for HTTPS and STP over TLS
  std::string private_key_pem;

  size_t max_body_bytes = 16u << 20;  // HTTPS bodies and STP frames
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds hang_hold{120};  // how long a hung connection is held at most
};

// The outcome of reading the start of an STP frame.
struct StpFrame {
  enum class State { kIncomplete, kBad, kComplete };
  State state = State::kIncomplete;
  std::string version;  // the two digits
  size_t body_at = 0;   // where the XML starts in the buffer
  size_t length = 0;    // its byte length
  std::string problem;  // for kBad
};

// Reads "STP/<2 digits>/<length>/<xml>" at the start of `buffer`; kComplete once the whole
// XML is there (more bytes may follow: the next frame).
StpFrame ParseStpFrame(std::string_view buffer, size_t max_length);

class SimServer {
 public:
  SimServer(SimState& state, SimServerOptions options);
  ~SimServer();  // Stop()
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  // Binds the listeners and starts serving on an I/O thread of its own. kUnavailable when an
  // address cannot be bound, kInvalidArgument for a bad address or certificate.
  Status Start();

  // The bound ports (after Start); a `down` fault listens again on the same ones.
  uint16_t https_port() const;
  std::optional<uint16_t> stp_port() const;

  // Sets the fault (SimState::SetFault); `down` closes the listeners and every connection now.
  void ApplyFault(Fault fault);

  // Closes the listeners and every connection and joins the I/O thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace facegate::shipsim
