// ConnectService: the cloud link ("Connect", docs/connect.md). One MQTT 3.1.1 connection over
// TLS with a client certificate (mTLS) to the vendor's broker, made with Eclipse Paho's async
// client and followed by a thread of the service's own:
//   up    status (retained "online"; the last will, retained, says "offline"), telemetry every
//         `telemetry_interval_s`, the device list, and each access event from the store's
//         outbox (QoS 1, removed from the outbox only once the broker acknowledged it: at
//         least once, with the event id so the cloud can drop a repeat);
//   down  commands on .../cmd/<name> with a request id, answered on .../cmd-reply/<id>.
// The settings are the `connect` integration's (the admin API changes them at run time). The
// status, in the store, the metrics and the log:
//   no_status     not enabled, or the settings are incomplete or wrong (last_error says which)
//   connected     the broker accepted the connection
//   unauthorized  the TLS handshake failed (a certificate refused either way) or the broker
//                 refused the client (CONNACK 4 or 5)
//   disconnected  the broker could not be reached or the connection was lost
// Reconnection backs off exponentially (with jitter) up to `reconnect_max_s`.
//
// Nothing personal crosses the link: events carry ids, decision, reason and latency; devices
// their ids, door, state and firmware; never names, external user ids, images or templates.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "facegate/core/clock.h"
#include "facegate/core/metrics.h"
#include "facegate/core/status.h"
#include "facegate/store/store.h"

namespace facegate::connect {

// The `connect` integration's settings (a JSON object), checked.
struct ConnectSettings {
  std::string host;
  uint16_t port = 8883;
  // The broker's CA and this server's client certificate and key: files on this host, or the
  // PEM text itself (ca_pem, cert_pem, key_pem; written to the service's files directory).
  std::string ca_file, cert_file, key_file;
  std::string ca_pem, cert_pem, key_pem;
  std::string server_id;  // the MQTT client id and the topics' second level; "": the store's
  std::string topic_prefix = "facegate";
  std::chrono::seconds keep_alive{30};
  std::chrono::seconds telemetry_interval{60};
  std::chrono::seconds devices_interval{300};
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds reconnect_min{1};
  std::chrono::seconds reconnect_max{60};
  int max_in_flight = 100;       // events published and not yet acknowledged
  int64_t max_backlog = 100000;  // outbox rows kept for the link; the oldest go beyond it
};

// kInvalidArgument naming every bad key ("settings.port: ...; settings.ca_file: ...").
Result<ConnectSettings> ParseConnectSettings(std::string_view settings_json);

// What the daemon gives the service; everything must outlive it.
struct ConnectContext {
  store::Store* store = nullptr;
  const Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  std::string version;
  // Where PEM settings are written as files (0700; files 0600).
  std::filesystem::path files_dir;
  // The daemon's numbers for telemetry (a JSON object: requests, latency, queue depth,
  // index, ...), merged into each telemetry message. Null: none.
  std::function<std::string()> telemetry;
  // What request-diagnostics answers besides the link's own state (a JSON object, secrets
  // already redacted). Null: none.
  std::function<std::string()> diagnostics;
  // The `sync-now` command: a Salto Space sync. Returns false when there is none to run.
  std::function<bool()> sync_now;
};

struct ConnectServiceOptions {
  std::chrono::milliseconds poll{250};  // how often the thread looks at settings and the outbox
};

class ConnectService {
 public:
  // Starts the thread.
  explicit ConnectService(ConnectContext context, ConnectServiceOptions options = {});
  ~ConnectService();  // Stop()
  ConnectService(const ConnectService&) = delete;
  ConnectService& operator=(const ConnectService&) = delete;

  // True while the integration is enabled: access events are then written to the outbox
  // for the link. Cheap; called for every decision.
  bool wants_events() const;
  // Wakes the thread (an event was just written to the outbox).
  void Notify();
  void Stop();

  // The link's state as a JSON object for GET /api/v1/integrations/connect ("details").
  std::string DetailsJson() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The server id used when the settings give none: made once (16 random bytes, hex) and kept
// in the store's settings ("server.id").
Result<std::string> ServerId(store::Store& store);

}  // namespace facegate::connect
