#include "facegate/daemon/options.h"

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include "facegate/core/files.h"

namespace facegate::daemon {

DaemonOptions DefaultDaemonOptions() {
  DaemonOptions o;
  o.device.name = "device";
  o.device.port = 8443;
  o.admin.name = "admin";
  o.admin.port = 8444;
  o.admin.max_body_bytes = 32 * 1024 * 1024;  // photo uploads and imports
  o.enrollment.name = "enrollment";
  o.enrollment.enabled = false;
  o.enrollment.port = 8445;
  o.enrollment.max_body_bytes = 8 * 1024 * 1024;
  return o;
}

namespace {

void ParseServerOptions(ConfigSection& s, ServerOptions* o) {
  s.Get("io_threads", &o->io_threads, 1, 64);
  s.Get("drain_timeout_ms", &o->drain_timeout_ms, 0, 300000);
  s.Get("allow_no_avx2", &o->allow_no_avx2);
  s.GetPath("ports_file", &o->ports_file);
}

void ParseTlsOptions(ConfigSection& s, TlsOptions* o) {
  s.Get("server_addresses", &o->server_addresses);
  for (size_t i = 0; i < o->server_addresses.size(); ++i) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(o->server_addresses[i], ec);
    if (ec) {
      s.Error("server_addresses[" + std::to_string(i) + "]",
              "'" + o->server_addresses[i] + "' is not an IP address");
    }
  }
  s.Get("server_names", &o->server_names);
  s.Get("ca_validity_days", &o->ca_validity_days, 1, 36500);
  s.Get("server_cert_validity_days", &o->server_cert_validity_days, 1, 3650);
  s.Get("renew_before_days", &o->renew_before_days, 0, 365);
  if (o->renew_before_days >= o->server_cert_validity_days) {
    s.Error("renew_before_days", "must be less than server_cert_validity_days (" +
                                     std::to_string(o->server_cert_validity_days) + ")");
  }
}

}  // namespace

Result<DaemonOptions> ParseDaemonOptions(std::string_view text,
                                         const std::filesystem::path& origin) {
  nlohmann::json root;
  FACEGATE_RETURN_IF_ERROR(ParseJsonText(text, origin.string(), &root));
  DaemonOptions o = DefaultDaemonOptions();
  o.config_file = origin;
  ConfigErrors errors(origin.string());
  {
    std::filesystem::path base = origin.parent_path();
    if (base.empty()) base = ".";
    ConfigSection top(&root, "", &errors, std::filesystem::absolute(base));
    top.GetPath("data_dir", &o.data_dir);
    if (o.data_dir.empty()) top.Error("data_dir", "must not be empty");
    {
      auto s = top.Child("log");
      ParseLogOptions(s, &o.log);
    }
    {
      auto s = top.Child("server");
      ParseServerOptions(s, &o.server);
    }
    {
      auto s = top.Child("tls");
      ParseTlsOptions(s, &o.tls);
    }
    {
      auto s = top.Child("store");
      store::ParseStoreOptions(s, &o.store);
    }
    {
      auto s = top.Child("face");
      face::ParseFaceOptions(s, &o.face);
    }
    {
      auto s = top.Child("index");
      gallery::ParseGalleryOptions(s, &o.index);
    }
    {
      auto s = top.Child("devices");
      api::ParseDeviceApiOptions(s, &o.devices);
    }
    {
      auto s = top.Child("admin");
      admin::ParseAdminApiOptions(s, &o.admin_api);
    }
    {
      auto listeners = top.Child("listeners");
      for (auto* l : {&o.device, &o.admin, &o.enrollment}) {
        auto s = listeners.Child(l->name);
        ParseListenerOptions(s, l);
      }
    }
    // Two enabled listeners cannot share a fixed port on the same address.
    const net::ListenerOptions* all[] = {&o.device, &o.admin, &o.enrollment};
    for (size_t i = 0; i < 3; ++i) {
      for (size_t j = i + 1; j < 3; ++j) {
        const auto& a = *all[i];
        const auto& b = *all[j];
        if (a.enabled && b.enabled && a.port != 0 && a.port == b.port) {
          top.Error("listeners." + b.name + ".port",
                    "port " + std::to_string(b.port) + " is already used by listeners." + a.name);
        }
      }
    }
  }
  FACEGATE_RETURN_IF_ERROR(errors.ToStatus());
  if (Status s = store::ApplyDataDirDefaults(o.data_dir, &o.store); !s.ok()) {
    return Status::InvalidArgument(origin.string() + ": store: " + s.message());
  }
  return o;
}

Result<DaemonOptions> LoadDaemonOptions(const std::filesystem::path& file) {
  auto text = ReadFile(file, 1 << 20);
  if (!text.ok()) return text.status().WithContext("cannot read the config file");
  return ParseDaemonOptions(*text, file);
}

}  // namespace facegate::daemon
