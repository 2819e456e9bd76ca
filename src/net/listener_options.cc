#include "facegate/net/listener_options.h"

#include <boost/asio/ip/address.hpp>

namespace facegate::net {

void ParseListenerOptions(ConfigSection& section, ListenerOptions* o) {
  section.Get("enabled", &o->enabled);
  if (section.Has("address")) {
    std::string address = o->address;
    section.Get("address", &address);
    boost::system::error_code ec;
    boost::asio::ip::make_address(address, ec);
    if (ec) {
      section.Error("address", "'" + address + "' is not an IPv4 or IPv6 address (listeners take "
                                               "an address, not a host name)");
    } else {
      o->address = address;
    }
  }
  section.Get("port", &o->port, 0, 65535);
  section.GetPath("cert_file", &o->cert_file);
  section.GetPath("key_file", &o->key_file);
  if (o->cert_file.empty() != o->key_file.empty()) {
    section.Error(o->cert_file.empty() ? "cert_file" : "key_file",
                  "cert_file and key_file go together: set both or neither");
  }
  section.Get("max_connections", &o->max_connections, 1, 100000);
  section.Get("max_header_bytes", &o->max_header_bytes, 1024, 1024 * 1024);
  section.Get("max_body_bytes", &o->max_body_bytes, 0, int64_t{1} << 30);
  section.Get("handshake_timeout_ms", &o->handshake_timeout_ms, 100, 600000);
  section.Get("request_timeout_ms", &o->request_timeout_ms, 100, 600000);
  section.Get("idle_timeout_ms", &o->idle_timeout_ms, 100, 3600000);
  section.Get("write_timeout_ms", &o->write_timeout_ms, 100, 600000);
}

}  // namespace facegate::net
