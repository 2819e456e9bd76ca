// The daemon's configuration: one JSON file parsed into each subsystem's Options.
//
// Every key is documented in docs/config.md; config/facegate.json is a commented example.
// Relative paths in the file are resolved against the file's own directory. An unknown key,
// a wrong type or an out-of-range value is an error naming the key and the file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "facegate/admin/admin_api.h"
#include "facegate/api/device_api.h"
#include "facegate/core/logging.h"
#include "facegate/core/status.h"
#include "facegate/face/face_options.h"
#include "facegate/gallery/gallery.h"
#include "facegate/net/listener_options.h"
#include "facegate/store/options.h"

namespace facegate::daemon {

struct ServerOptions {
  int io_threads = 2;
  int drain_timeout_ms = 10000;  // SIGTERM: how long in-flight requests may take to finish
  // Start on a CPU without AVX2+FMA (the portable index kernels, several times slower)
  // instead of refusing (docs/install.md "Requirements").
  bool allow_no_avx2 = false;
  // When set, the bound ports are written here as JSON after start-up (tests bind port 0).
  std::filesystem::path ports_file;
};

struct TlsOptions {
  // Subject alternative names of the generated server certificate, besides the listeners'
  // own addresses (and, for a wildcard listener, the host's interface addresses).
  std::vector<std::string> server_addresses;
  std::vector<std::string> server_names;
  int ca_validity_days = 3650;
  int server_cert_validity_days = 397;
  int renew_before_days = 30;  // re-issue the server certificate this close to its expiry
};

struct DaemonOptions {
  std::filesystem::path config_file;
  std::filesystem::path data_dir = "/var/lib/facegate";
  LogOptions log;
  ServerOptions server;
  TlsOptions tls;
  net::ListenerOptions device;
  net::ListenerOptions admin;
  net::ListenerOptions enrollment;
  store::StoreOptions store;  // paths default to data_dir (facegate.db, keys/)
  face::FaceOptions face;
  gallery::GalleryOptions index;     // the "index" section: the in-memory 1:N gallery
  api::DeviceApiOptions devices;     // the door terminals' API (docs/device-api.md)
  admin::AdminApiOptions admin_api;  // the "admin" section: the admin API (docs/admin-api.md)
};

// Defaults before any file is read.
DaemonOptions DefaultDaemonOptions();

// Parses `text` (the content of `origin`, whose directory anchors relative paths).
Result<DaemonOptions> ParseDaemonOptions(std::string_view text,
                                         const std::filesystem::path& origin);

// Reads and parses the file.
Result<DaemonOptions> LoadDaemonOptions(const std::filesystem::path& file);

}  // namespace facegate::daemon
