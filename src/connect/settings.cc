// ParseConnectSettings and ServerId (docs/connect.md, "Settings").
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "connect/topics.h"
#include "facegate/connect/connect_service.h"
#include "facegate/core/settings_reader.h"

namespace facegate::connect {
namespace {

using json = nlohmann::json;

constexpr const char* kServerIdSetting = "server.id";

}  // namespace

Result<ConnectSettings> ParseConnectSettings(std::string_view settings_json) {
  json j = json::parse(settings_json, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument("settings: expected a JSON object");
  ConnectSettings out;
  SettingsReader r(j);
  auto error = [&](const std::string& key, const std::string& what) { r.Error(key, what); };
  auto text = [&](const char* key) { return r.Text(key); };
  auto number = [&](const char* key, int64_t fallback, int64_t min, int64_t max) {
    return r.Number(key, fallback, min, max);
  };
  out.host = text("host");
  if (out.host.empty()) {
    error("host", "required (the broker's name or address)");
  } else if (out.host.find_first_of("/: ") != std::string::npos && out.host.front() != '[') {
    error("host", "expected a host name or address, not a URL");
  }
  out.port = static_cast<uint16_t>(number("port", 8883, 1, 65535));
  out.ca_file = text("ca_file");
  out.cert_file = text("cert_file");
  out.key_file = text("key_file");
  out.ca_pem = text("ca_pem");
  out.cert_pem = text("cert_pem");
  out.key_pem = text("key_pem");
  auto one_of = [&](const char* file_key, const std::string& file, const char* pem_key,
                    const std::string& pem, const char* what) {
    if (file.empty() && pem.empty()) {
      error(file_key, std::string("required: ") + what + " (or " + pem_key + ")");
    } else if (!file.empty() && !pem.empty()) {
      error(pem_key, std::string("give ") + file_key + " or " + pem_key + ", not both");
    } else if (!pem.empty() && pem.find("-----BEGIN ") == std::string::npos) {
      error(pem_key, "expected PEM text");
    }
  };
  one_of("ca_file", out.ca_file, "ca_pem", out.ca_pem,
         "the CA that signed the broker's certificate");
  one_of("cert_file", out.cert_file, "cert_pem", out.cert_pem, "this server's client certificate");
  one_of("key_file", out.key_file, "key_pem", out.key_pem, "the client certificate's key");
  out.server_id = text("server_id");
  if (!out.server_id.empty() && !internal::IsTopicLevel(out.server_id)) {
    error("server_id", "1 to 64 characters of [A-Za-z0-9._-]");
  }
  const std::string prefix = text("topic_prefix");
  if (!prefix.empty()) {
    if (!internal::IsTopicLevel(prefix)) {
      error("topic_prefix", "1 to 64 characters of [A-Za-z0-9._-]");
    } else {
      out.topic_prefix = prefix;
    }
  }
  out.keep_alive = std::chrono::seconds(number("keep_alive_s", 30, 5, 3600));
  out.telemetry_interval = std::chrono::seconds(number("telemetry_interval_s", 60, 1, 86400));
  out.devices_interval = std::chrono::seconds(number("devices_interval_s", 300, 1, 86400));
  out.connect_timeout = std::chrono::seconds(number("connect_timeout_s", 10, 1, 120));
  out.reconnect_min = std::chrono::seconds(number("reconnect_min_s", 1, 1, 3600));
  out.reconnect_max = std::chrono::seconds(number("reconnect_max_s", 60, 1, 86400));
  if (out.reconnect_max < out.reconnect_min) {
    error("reconnect_max_s", "must not be less than reconnect_min_s");
  }
  out.max_in_flight = static_cast<int>(number("max_in_flight", 100, 1, 65535));
  out.max_backlog = number("max_backlog", 100000, 1, 100000000);
  FACEGATE_RETURN_IF_ERROR(r.Finish());
  return out;
}

Result<std::string> ServerId(store::Store& store) {
  auto existing = store.GetSetting(kServerIdSetting);
  if (!existing.ok()) return existing.status();
  if (*existing && !(*existing)->empty()) return **existing;
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::Internal("no randomness for a server id");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : raw) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 15]);
  }
  FACEGATE_RETURN_IF_ERROR(store.SetSetting(kServerIdSetting, id));
  return id;
}

}  // namespace facegate::connect
