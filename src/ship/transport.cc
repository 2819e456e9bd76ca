#include "facegate/ship/transport.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "facegate/core/files.h"
#include "facegate/core/version.h"
#include "facegate/net/run_one.h"
#include "facegate/net/tls.h"

namespace facegate::ship {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

std::string Hex(const unsigned char* data, size_t n) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ':';
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

std::string FingerprintOf(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1) return "";
  return Hex(md, n);
}

// The SSL ex_data slot where a connection keeps the fingerprint of the certificate its peer
// showed, captured during verification: a failed handshake keeps no peer certificate, and
// the error message should name the one to pin.
int SeenFingerprintIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string* SeenFingerprint(X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  return ssl ? static_cast<std::string*>(SSL_get_ex_data(ssl, SeenFingerprintIndex())) : nullptr;
}

void RememberLeaf(X509_STORE_CTX* store) {
  std::string* seen = SeenFingerprint(store);
  if (seen && seen->empty()) {
    if (X509* leaf = X509_STORE_CTX_get0_cert(store)) *seen = FingerprintOf(leaf);
  }
}

// CA mode: OpenSSL's verdict stands.
int VerifyAgainstCa(int preverified, X509_STORE_CTX* store) {
  RememberLeaf(store);
  return preverified;
}

// Pinned mode: the chain is not judged here; the fingerprint is compared after the handshake.
int AcceptForPinCheck(int, X509_STORE_CTX* store) {
  RememberLeaf(store);
  return 1;
}

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool ClosedByPeer(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

std::string Words(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ClosedByPeer(ec)) return "the server closed the connection";
  return ec.message();
}

// One connection with its own io_context: each exchange runs it on the calling thread.
struct Connection {
  asio::io_context ioc;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  std::unique_ptr<beast::tcp_stream> plain;
  beast::flat_buffer buffer;
  int exchanges = 0;

  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // One asynchronous operation run to its end on this connection's io_context (RunOne).
  template <class Start>
  beast::error_code Run(Start&& start) {
    return net::RunOne(ioc, std::forward<Start>(start));
  }

  template <class Buffers>
  beast::error_code Write(const Buffers& b) {
    return tls ? Run([&](auto h) { asio::async_write(*tls, b, std::move(h)); })
               : Run([&](auto h) { asio::async_write(*plain, b, std::move(h)); });
  }

  template <class Buffers>
  beast::error_code ReadSome(const Buffers& b, size_t* n) {
    std::optional<beast::error_code> result;
    auto done = [&](beast::error_code ec, size_t got) {
      result = ec;
      *n = got;
    };
    if (tls) {
      tls->async_read_some(b, done);
    } else {
      plain->async_read_some(b, done);
    }
    ioc.restart();
    ioc.run();
    return result.value_or(asio::error::operation_aborted);
  }

  void Close() {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().socket().close(ignored);
  }
};

class TransportImpl final : public Transport {
 public:
  TransportImpl(TransportOptions options, std::string pin)
      : options_(std::move(options)), pin_(std::move(pin)) {
    boost::system::error_code ec;
    asio::ip::make_address(options_.host, ec);
    is_ip_ = !ec;
    const bool v6 = options_.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + options_.host + "]" : options_.host;
    const std::string port = std::to_string(options_.port);
    if (options_.kind == TransportOptions::Kind::kHttps) {
      origin_ = "https://" + host + ":" + port + options_.path;
      host_header_ = host + ":" + port;
    } else {
      origin_ = std::string(options_.stp_tls ? "stp+tls://" : "stp://") + host + ":" + port;
    }
    if (options_.auth == TransportOptions::Auth::kBasic) {
      basic_ = "Basic " + Base64(options_.basic_user + ":" + options_.basic_password);
    }
  }

  ~TransportImpl() override {
    for (auto& c : idle_) c->Close();
  }

  ssl::context& tls_context() { return tls_; }

  std::string Describe() const override { return origin_; }

  Result<std::string> Exchange(std::string_view xml, SteadyClock::time_point deadline) override {
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<Connection> conn = TakeIdle();
      const bool reused = conn != nullptr;
      if (!conn) {
        auto made = Connect(deadline);
        if (!made.ok()) return made.status();
        conn = std::move(made).value();
      }
      bool stale = false;
      bool keep = false;
      Result<std::string> r = options_.kind == TransportOptions::Kind::kHttps
                                  ? HttpExchange(*conn, xml, deadline, &stale, &keep)
                                  : StpExchange(*conn, xml, deadline, &stale);
      if (r.ok()) {
        ++conn->exchanges;
        if (options_.kind == TransportOptions::Kind::kStp || keep) {
          PutIdle(std::move(conn));
        } else {
          conn->Close();
        }
        return r;
      }
      conn->Close();
      // An idle connection the server had closed: nothing reached it, so one new try.
      if (reused && stale && attempt == 0 && SteadyClock::now() < deadline) continue;
      return r.status();
    }
  }

 private:
  std::unique_ptr<Connection> TakeIdle() {
    std::lock_guard lock(mu_);
    if (idle_.empty()) return nullptr;
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }

  void PutIdle(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu_);
    if (idle_.size() >= options_.max_idle_connections) {
      c->Close();
      return;
    }
    idle_.push_back(std::move(c));
  }

  Status Timeout(std::string_view doing) const {
    return Status::DeadlineExceeded("Salto Space at " + origin_ + ": the deadline passed " +
                                    std::string(doing));
  }

  Status Unreachable(const std::string& why) const {
    return Status::Unavailable("cannot reach Salto Space at " + origin_ + ": " + why);
  }

  Status Failed(const beast::error_code& ec, std::string_view doing) const {
    if (ec == beast::error::timeout) return Timeout(doing);
    return Status::Unavailable("Salto Space at " + origin_ + ": " + Words(ec) + " " +
                               std::string(doing));
  }

  Result<std::unique_ptr<Connection>> Connect(SteadyClock::time_point deadline) {
    auto conn = std::make_unique<Connection>();
    const auto connect_deadline = std::min(deadline, SteadyClock::now() + options_.connect_timeout);
    net::Lookup lookup = net::LookUp(conn->ioc, options_.host, options_.port, connect_deadline);
    if (lookup.timed_out) return Timeout("looking up " + options_.host);
    if (lookup.error) {
      return Unreachable("cannot resolve " + options_.host + ": " + lookup.error.message());
    }
    const std::vector<tcp::endpoint>& endpoints = lookup.endpoints;
    const bool use_tls = options_.kind == TransportOptions::Kind::kHttps || options_.stp_tls;
    if (use_tls) {
      conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(conn->ioc, tls_);
    } else {
      conn->plain = std::make_unique<beast::tcp_stream>(conn->ioc);
    }
    auto& lowest = conn->Lowest();
    lowest.expires_at(connect_deadline);
    beast::error_code cec = conn->Run([&](auto handler) {
      lowest.async_connect(
          endpoints,
          [h = std::move(handler)](beast::error_code e, const tcp::endpoint&) mutable { h(e); });
    });
    if (cec) {
      if (cec == beast::error::timeout) return Timeout("connecting");
      return Unreachable(Words(cec));
    }
    beast::error_code ignored;
    lowest.socket().set_option(tcp::no_delay(true), ignored);
    if (!use_tls) return conn;

    SSL* native = conn->tls->native_handle();
    if (!is_ip_) SSL_set_tlsext_host_name(native, options_.host.c_str());
    if (pin_.empty()) {
      if (is_ip_) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), options_.host.c_str());
      } else {
        SSL_set1_host(native, options_.host.c_str());
      }
    }
    std::string seen_in_verify;
    SSL_set_ex_data(native, SeenFingerprintIndex(), &seen_in_verify);
    ERR_clear_error();
    lowest.expires_at(deadline);
    beast::error_code hec = conn->Run([&](auto handler) {
      conn->tls->async_handshake(ssl::stream_base::client, std::move(handler));
    });
    SSL_set_ex_data(native, SeenFingerprintIndex(), nullptr);
    X509* peer = SSL_get1_peer_certificate(native);
    const std::string seen = peer ? FingerprintOf(peer) : seen_in_verify;
    if (peer) X509_free(peer);
    if (hec) {
      const long verify = SSL_get_verify_result(native);
      if (hec == beast::error::timeout) return Timeout("in the TLS handshake");
      if (verify != X509_V_OK) {
        std::string why = "its certificate is not trusted by " + options_.ca_file.string() + ": " +
                          X509_verify_cert_error_string(verify);
        if (!seen.empty()) why += " (to pin this certificate instead: pin_sha256 " + seen + ")";
        return Unreachable(why);
      }
      return Unreachable("TLS handshake failed: " + hec.message());
    }
    if (!pin_.empty() && seen != pin_) {
      return Unreachable("its certificate's SHA-256 fingerprint is " +
                         (seen.empty() ? std::string("unknown") : seen) + ", not the pinned " +
                         pin_ +
                         " (if the Space server's certificate was replaced, pin the new one)");
    }
    return conn;
  }

  Result<std::string> HttpExchange(Connection& c, std::string_view xml,
                                   SteadyClock::time_point deadline, bool* stale, bool* keep) {
    http::request<http::string_body> req{http::verb::post, options_.path, 11};
    req.set(http::field::host, host_header_);
    req.set(http::field::user_agent, "facegate/" + std::string(Version()));
    req.set(http::field::content_type, kShipMediaType);
    req.set(http::field::accept, kShipMediaType);
    if (options_.auth == TransportOptions::Auth::kKey) {
      req.set("Salto-SHIP-Key", options_.api_key);
    } else {
      req.set(http::field::authorization, basic_);
    }
    req.keep_alive(true);
    req.body() = std::string(xml);
    req.prepare_payload();
    c.Lowest().expires_at(deadline);
    beast::error_code ec =
        c.Run([&](auto handler) { http::async_write(*c.tls, req, std::move(handler)); });
    if (ec) {
      *stale = c.exchanges > 0 && ClosedByPeer(ec);
      return Failed(ec, "sending the request");
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    c.Lowest().expires_at(deadline);
    ec = c.Run(
        [&](auto handler) { http::async_read(*c.tls, c.buffer, parser, std::move(handler)); });
    if (ec) {
      *stale = c.exchanges > 0 && !parser.got_some() && ClosedByPeer(ec);
      if (ec == http::error::body_limit) {
        return Status::InvalidArgument("Salto Space at " + origin_ + " answered more than " +
                                       std::to_string(options_.max_response_bytes) + " bytes");
      }
      if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
        return Status::InvalidArgument("Salto Space at " + origin_ +
                                       " sent a malformed HTTP answer: " + ec.message());
      }
      return Failed(ec, parser.got_some() ? "reading the answer" : "waiting for the answer");
    }
    auto& res = parser.get();
    *keep = res.keep_alive();
    const unsigned code = res.result_int();
    if (code == 401 || code == 403) {
      return Status::Unauthenticated(
          "Salto Space at " + origin_ + " refused the " +
          (options_.auth == TransportOptions::Auth::kKey ? "SHIP API key" : "user and password") +
          " (HTTP " + std::to_string(code) + ")");
    }
    if (code != 200) {
      return Status::FailedPrecondition("Salto Space at " + origin_ + " answered HTTP " +
                                        std::to_string(code) + " " + std::string(res.reason()));
    }
    std::string type(res[http::field::content_type]);
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    for (char& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (type != kShipMediaType && type != "application/xml" && type != "text/xml") {
      return Status::InvalidArgument("Salto Space at " + origin_ + " answered with Content-Type '" +
                                     type + "', not SHIP XML (" + std::string(kShipMediaType) +
                                     ")");
    }
    return std::move(res.body());
  }

  Result<std::string> StpExchange(Connection& c, std::string_view xml,
                                  SteadyClock::time_point deadline, bool* stale) {
    char head[48];
    std::snprintf(head, sizeof head, "STP/%02d/%zu/", options_.stp_version % 100, xml.size());
    const std::vector<asio::const_buffer> frame = {asio::buffer(head, std::strlen(head)),
                                                   asio::buffer(xml.data(), xml.size())};
    c.Lowest().expires_at(deadline);
    beast::error_code ec = c.Write(frame);
    if (ec) {
      *stale = c.exchanges > 0 && ClosedByPeer(ec);
      return Failed(ec, "sending the request");
    }
    // The answer's frame: "STP/" two digits "/" a length "/" then that many bytes.
    std::string data;
    size_t body_at = std::string::npos;
    size_t length = 0;
    char chunk[16384];
    for (;;) {
      if (body_at == std::string::npos) {
        const size_t third = data.size() >= 7 ? data.find('/', 7) : std::string::npos;
        if (data.size() >= 4 && data.compare(0, 4, "STP/") != 0) {
          return BadFrame("does not start with STP/");
        }
        if (third != std::string::npos) {
          const std::string_view digits(data.data() + 7, third - 7);
          if (data[6] != '/' || !std::isdigit(static_cast<unsigned char>(data[4])) ||
              !std::isdigit(static_cast<unsigned char>(data[5])) || digits.empty() ||
              digits.size() > 10 ||
              digits.find_first_not_of("0123456789") != std::string_view::npos) {
            return BadFrame("has a malformed header '" + data.substr(0, third + 1) + "'");
          }
          length = std::stoull(std::string(digits));
          if (length > options_.max_response_bytes) {
            return Status::InvalidArgument("Salto Space at " + origin_ + " announced " +
                                           std::to_string(length) + " bytes, more than " +
                                           std::to_string(options_.max_response_bytes));
          }
          body_at = third + 1;
        } else if (data.size() > 24) {
          return BadFrame("has no length in its first 24 bytes");
        }
      }
      if (body_at != std::string::npos && data.size() >= body_at + length) {
        if (data.size() > body_at + length) return BadFrame("has bytes after its length");
        return data.substr(body_at);
      }
      size_t n = 0;
      c.Lowest().expires_at(deadline);
      ec = c.ReadSome(asio::buffer(chunk), &n);
      if (ec) {
        *stale = c.exchanges > 0 && data.empty() && ClosedByPeer(ec);
        return Failed(ec, data.empty() ? "waiting for the answer" : "reading the answer");
      }
      data.append(chunk, n);
    }
  }

  Status BadFrame(const std::string& what) const {
    return Status::InvalidArgument("Salto Space at " + origin_ + ": the STP answer " + what);
  }

  TransportOptions options_;
  std::string pin_;
  ssl::context tls_{ssl::context::tls_client};
  bool is_ip_ = false;
  std::string origin_;
  std::string host_header_;
  std::string basic_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

Result<std::string> NormalizeFingerprint(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c == ':' || c == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return Status::InvalidArgument(
          "a SHA-256 fingerprint is hex digits (':' between pairs "
          "allowed), got '" +
          std::string(text) + "'");
    }
    hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 64) {
    return Status::InvalidArgument("a SHA-256 fingerprint has 32 bytes (64 hex digits), got " +
                                   std::to_string(hex.size()) + " digits");
  }
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i > 0) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

Result<std::string> CertificateFingerprint(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (!cert) return Status::InvalidArgument("no PEM certificate found");
  std::string out = FingerprintOf(cert);
  X509_free(cert);
  return out;
}

Result<std::unique_ptr<Transport>> MakeTransport(TransportOptions options) {
  if (options.host.empty()) return Status::InvalidArgument("host: the Space server is not set");
  if (options.port == 0) return Status::InvalidArgument("port: must be 1-65535");
  if (options.kind == TransportOptions::Kind::kHttps) {
    if (options.path.empty() || options.path[0] != '/') {
      return Status::InvalidArgument("path: must start with '/'");
    }
    if (options.auth == TransportOptions::Auth::kKey && options.api_key.empty()) {
      return Status::InvalidArgument("api_key: not set (facegatectl integration space reset-key)");
    }
    if (options.auth == TransportOptions::Auth::kBasic && options.basic_user.empty()) {
      return Status::InvalidArgument("basic_user: not set (Basic authentication)");
    }
  }
  if (options.max_idle_connections == 0) options.max_idle_connections = 1;
  const bool use_tls = options.kind == TransportOptions::Kind::kHttps || options.stp_tls;
  std::string pin;
  if (use_tls) {
    const bool has_ca = !options.ca_file.empty();
    const bool has_pin = !options.pin_sha256.empty();
    if (has_ca == has_pin) {
      return Status::InvalidArgument(
          has_ca ? "pin_sha256: give either ca_file or pin_sha256 for the Space server, not both"
                 : "pin_sha256: the Space server's certificate cannot be verified: set "
                   "pin_sha256 (its SHA-256 fingerprint) or ca_file");
    }
    if (has_pin) {
      auto normalized = NormalizeFingerprint(options.pin_sha256);
      if (!normalized.ok()) return normalized.status().WithContext("pin_sha256");
      pin = *normalized;
    }
  }
  auto impl = std::make_unique<TransportImpl>(options, pin);
  SSL_CTX* ctx = impl->tls_context().native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (use_tls && pin.empty()) {
    auto pem = ReadFile(options.ca_file, 1 << 20);
    if (!pem.ok()) return pem.status().WithContext("ca_file");
    if (Status s = net::TrustOnly(impl->tls_context(), *pem); !s.ok()) {
      return Status::InvalidArgument("ca_file: " + options.ca_file.string() + " " + s.message());
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyAgainstCa);
  } else if (use_tls) {
    // Pinned: the certificate's fingerprint is compared right after the handshake, before a
    // byte of SHIP is sent.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptForPinCheck);
  }
  return std::unique_ptr<Transport>(std::move(impl));
}

}  // namespace facegate::ship
