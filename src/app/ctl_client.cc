#include "ctl_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "facegate/core/files.h"
#include "facegate/core/version.h"
#include "facegate/net/run_one.h"
#include "facegate/net/tls.h"

namespace facegate::app::ctl {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

constexpr uint64_t kMaxResponseBytes = uint64_t{512} << 20;  // events.csv can be large

// ---------------------------------------------------------------- URL

struct Endpoint {
  std::string host;    // without brackets
  bool is_ip = false;  // an IPv4 or IPv6 literal
  uint16_t port = 443;
  std::string prefix;  // path prefix without a trailing '/', "" for none
  std::string origin;  // "https://host:port", for messages
  std::string host_header;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<Endpoint> ParseUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("bad URL '" + std::string(url) + "': " + why);
  };
  const std::string lower = Lower(url.substr(0, 8));
  if (lower.rfind("http://", 0) == 0) {
    return bad("the admin API is served over TLS only: use https://");
  }
  if (lower != "https://") return bad("expected https://HOST[:PORT]");
  std::string_view rest = url.substr(8);
  const size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return bad("no user or password in the URL (the token goes in --token-file)");
  }
  Endpoint ep;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address without its ']'");
    ep.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after ']'");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (ep.host.empty()) return bad("no host");
  if (!port_text.empty() || authority.find(':') != std::string_view::npos) {
    auto port = ParseInt(port_text, 1, 65535);
    if (!port) return bad("the port must be 1-65535");
    ep.port = static_cast<uint16_t>(*port);
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(ep.host, ec);
  ep.is_ip = !ec;
  if (path.find_first_of("?#") != std::string_view::npos) {
    return bad("no query or fragment in the base URL");
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  ep.prefix = std::string(path);
  const bool v6 = ep.is_ip && address.is_v6();
  const std::string host_text = v6 ? "[" + ep.host + "]" : ep.host;
  ep.host_header = host_text + (ep.port == 443 ? "" : ":" + std::to_string(ep.port));
  ep.origin = "https://" + host_text + ":" + std::to_string(ep.port);
  return ep;
}

// ---------------------------------------------------------------- where the settings come from

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::filesystem::path ExpandHome(const std::string& p, const std::filesystem::path& base) {
  if (p.rfind("~/", 0) == 0) {
    if (auto home = Env("HOME")) return std::filesystem::path(*home) / p.substr(2);
  }
  std::filesystem::path path(p);
  return path.is_absolute() || base.empty() ? path : base / path;
}

struct ClientFile {
  std::filesystem::path file;
  std::optional<std::string> url;
  std::optional<std::filesystem::path> token_file;
  std::optional<std::filesystem::path> ca;
};

std::filesystem::path DefaultClientFile() {
  if (auto xdg = Env("XDG_CONFIG_HOME")) {
    return std::filesystem::path(*xdg) / "facegate" / "facegatectl.json";
  }
  if (auto home = Env("HOME")) {
    return std::filesystem::path(*home) / ".config" / "facegate" / "facegatectl.json";
  }
  return {};
}

// $FACEGATE_CTL_CONFIG (must exist when set), else the default file (when it exists).
Result<std::optional<ClientFile>> LoadClientFile() {
  std::filesystem::path file;
  if (auto named = Env("FACEGATE_CTL_CONFIG")) {
    file = *named;
  } else {
    file = DefaultClientFile();
    std::error_code ec;
    if (file.empty() || !std::filesystem::exists(file, ec)) return std::optional<ClientFile>();
  }
  auto text = ReadFile(file, 1 << 20);
  if (!text.ok()) {
    return Status::InvalidArgument("cannot read the client file " + file.string() + " (" +
                                   text.status().message() + ")");
  }
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) {
    return Status::InvalidArgument(file.string() +
                                   ": not a JSON object like {\"url\": ..., \"token_file\": "
                                   "..., \"ca\": ...}");
  }
  ClientFile cf;
  cf.file = file;
  const auto base = file.parent_path();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "token") {
      return Status::InvalidArgument(file.string() +
                                     ": put the token in a file of its own (mode 0600) and name "
                                     "that file with \"token_file\"");
    }
    if (key != "url" && key != "token_file" && key != "ca") {
      return Status::InvalidArgument(file.string() + ": unknown key '" + key +
                                     "' (known: url, token_file, ca)");
    }
    if (!it.value().is_string() || it.value().get<std::string>().empty()) {
      return Status::InvalidArgument(file.string() + ": \"" + key +
                                     "\" must be a non-empty string");
    }
    const std::string v = it.value().get<std::string>();
    if (key == "url") cf.url = v;
    if (key == "token_file") cf.token_file = ExpandHome(v, base);
    if (key == "ca") cf.ca = ExpandHome(v, base);
  }
  return std::optional<ClientFile>(std::move(cf));
}

// A token as it must be in a header: visible ASCII, nothing else. Messages never show it.
Status CheckToken(const std::string& token, const std::string& where) {
  if (token.empty()) return Status::InvalidArgument("the token " + where + " is empty");
  for (unsigned char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return Status::InvalidArgument("the token " + where +
                                     " holds spaces or characters a token never has");
    }
  }
  return Status::Ok();
}

Result<std::string> ReadTokenFile(const std::filesystem::path& file, const std::string& named_by) {
  auto text = ReadFile(file, 1 << 16);
  if (!text.ok()) {
    return Status::InvalidArgument("cannot read the token file " + file.string() + " (named by " +
                                   named_by + "): " + text.status().message());
  }
  std::string token = *text;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' ||
                            token.back() == '\t')) {
    token.pop_back();
  }
  size_t start = token.find_first_not_of(" \t\r\n");
  token = start == std::string::npos ? "" : token.substr(start);
  FACEGATE_RETURN_IF_ERROR(CheckToken(token, "in " + file.string()));
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & S_IROTH)) {
    std::fprintf(stderr,
                 "facegatectl: warning: the token file %s can be read by every user of this "
                 "host (chmod 600 %s)\n",
                 file.c_str(), file.c_str());
  }
  return token;
}

// The admin listener's port: configured, or (0: picked at start) the running daemon's.
uint16_t AdminPort(const daemon::DaemonOptions& o) {
  if (o.admin.port != 0 || o.server.ports_file.empty()) return o.admin.port;
  auto text = ReadFile(o.server.ports_file, 1 << 16);
  if (!text.ok()) return 0;
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("ports") || !j["ports"].is_object()) return 0;
  const json& p = j["ports"];
  if (!p.contains("admin") || !p["admin"].is_number_unsigned()) return 0;
  const auto port = p["admin"].get<uint64_t>();
  return port <= 65535 ? static_cast<uint16_t>(port) : 0;
}

// ---------------------------------------------------------------- TLS errors

std::string VerifyFailure(long result, const Endpoint& ep, const std::filesystem::path& ca) {
  switch (result) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "the server's certificate is not signed by the CA in " + ca.string() +
             " (pinning; give the CA of that server with --ca FILE)";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "the server's certificate is not valid for " + ep.host +
             " (connect by a name or address it holds, or add this one to the daemon's "
             "tls.server_addresses / tls.server_names)";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "the server's certificate has expired (facegated renews its own at start-up)";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "the server's certificate is not valid yet (check this host's clock)";
    default:
      return std::string("the server's certificate was refused: ") +
             X509_verify_cert_error_string(result);
  }
}

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

// Asio's messages start with a capital ("Connection refused"): ours continue a sentence.
std::string ErrorWords(const beast::error_code& ec) {
  std::string m = ec.message();
  if (!m.empty() && m[0] >= 'A' && m[0] <= 'Z' && !(m.size() > 1 && m[1] >= 'A' && m[1] <= 'Z')) {
    m[0] = static_cast<char>(m[0] - 'A' + 'a');
  }
  return m;
}

bool ClosedByPeer(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

std::string MediaType(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return Lower(t);
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    for (auto& c : raw) c = static_cast<char>(std::rand());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// A Content-Disposition parameter value: quotes, ';' and line breaks percent-encoded (as
// browsers do), so no value can end the parameter early.
std::string DispositionValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    switch (c) {
      case '"':
        out += "%22";
        break;
      case ';':
        out += "%3B";
        break;
      case '\r':
        out += "%0D";
        break;
      case '\n':
        out += "%0A";
        break;
      case '\\':
        out += "%5C";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- arguments and options

int ParseApiArgs(int argc, char** argv, std::string_view prog, const char* help,
                 std::initializer_list<std::string_view> flags,
                 std::initializer_list<std::string_view> valued, Args* out) {
  static constexpr std::string_view kClientOptions[] = {"--url", "--token", "--token-file", "--ca"};
  std::vector<char*> rest;
  std::vector<std::pair<std::string, std::string>> client;
  bool options_done = false;
  for (int i = 0; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (!options_done && a == "--") options_done = true;
    bool is_client = false;
    for (auto o : kClientOptions) is_client = is_client || (!options_done && a == o);
    if (!is_client) {
      rest.push_back(argv[i]);
      continue;
    }
    if (i + 1 >= argc) return UsageError(prog, std::string(a) + " needs a value", help);
    client.emplace_back(std::string(a), argv[++i]);
  }
  int rc = ParseArgs(static_cast<int>(rest.size()), rest.data(), prog, help, flags, valued, out);
  if (rc != kOk) return rc;
  for (auto& [name, value] : client) out->values[name].push_back(std::move(value));
  return kOk;
}

Result<ClientOptions> ResolveClientOptions(const Args& args) {
  ClientOptions o;
  auto cf = LoadClientFile();
  if (!cf.ok()) return cf.status();
  const std::optional<ClientFile>& file = *cf;

  if (auto v = args.Value("--url")) {
    o.url = *v;
  } else if (auto e = Env("FACEGATE_URL")) {
    o.url = *e;
  } else if (file && file->url) {
    o.url = *file->url;
  }

  if (args.Has("--token") && args.Has("--token-file")) {
    return Status::InvalidArgument("give --token or --token-file, not both");
  }
  if (auto v = args.Value("--token")) {
    o.token = *v;
    FACEGATE_RETURN_IF_ERROR(CheckToken(o.token, "given with --token"));
  } else if (auto f = args.Value("--token-file")) {
    auto t = ReadTokenFile(*f, "--token-file");
    if (!t.ok()) return t.status();
    o.token = *t;
  } else if (auto e = Env("FACEGATE_TOKEN")) {
    o.token = *e;
    FACEGATE_RETURN_IF_ERROR(CheckToken(o.token, "in FACEGATE_TOKEN"));
  } else if (auto ef = Env("FACEGATE_TOKEN_FILE")) {
    auto t = ReadTokenFile(*ef, "FACEGATE_TOKEN_FILE");
    if (!t.ok()) return t.status();
    o.token = *t;
  } else if (file && file->token_file) {
    auto t = ReadTokenFile(*file->token_file, file->file.string());
    if (!t.ok()) return t.status();
    o.token = *t;
  } else {
    return Status::InvalidArgument(
        "no API token: give --token-file FILE (or set FACEGATE_TOKEN_FILE or FACEGATE_TOKEN, or "
        "name a token_file in " +
        (file ? file->file : DefaultClientFile()).string() +
        "); 'facegatectl token create' makes one, 'facegated --init' printed the first");
  }

  if (auto v = args.Value("--ca")) {
    o.ca_file = *v;
  } else if (auto e = Env("FACEGATE_CA")) {
    o.ca_file = *e;
  } else if (file && file->ca) {
    o.ca_file = *file->ca;
  }

  if (o.url.empty() || o.ca_file.empty()) {
    auto d = LoadConfig(args.config);
    if (!d.ok()) {
      const std::string what = o.url.empty()
                                   ? "no admin API URL: give --url URL or set FACEGATE_URL"
                                   : "no CA to check the server with: give --ca FILE or set "
                                     "FACEGATE_CA";
      return Status::InvalidArgument(what + " (reading them from facegated's configuration " +
                                     args.config.string() + " failed: " + d.status().message() +
                                     ")");
    }
    if (o.url.empty()) {
      const auto& admin = d->admin;
      if (!admin.enabled) {
        return Status::InvalidArgument("the admin listener is disabled in " + args.config.string() +
                                       " (listeners.admin.enabled): give --url URL");
      }
      boost::system::error_code ec;
      auto address = asio::ip::make_address(admin.address, ec);
      std::string host = admin.address;
      if (!ec && address.is_unspecified()) host = address.is_v6() ? "::1" : "127.0.0.1";
      if (!ec && address.is_v6()) host = "[" + (address.is_unspecified() ? "::1" : host) + "]";
      const uint16_t port = AdminPort(*d);
      if (port == 0) {
        return Status::InvalidArgument(
            "listeners.admin.port is 0 in " + args.config.string() +
            " (a port picked at start) and no running facegated wrote it to server.ports_file: "
            "give --url URL");
      }
      o.url = "https://" + host + ":" + std::to_string(port);
    }
    if (o.ca_file.empty()) o.ca_file = d->data_dir / "pki" / "ca.crt";
  }
  return o;
}

// ---------------------------------------------------------------- the client

struct ApiClient::Impl {
  ClientOptions options;
  Endpoint ep;
  asio::io_context ioc;
  ssl::context tls{ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  int requests_on_connection = 0;
  std::string user_agent = "facegatectl/" + std::string(Version());

  // One asynchronous operation run to its end on this connection's io_context (RunOne).
  template <class Start>
  beast::error_code Run(Start&& start) {
    return net::RunOne(ioc, std::forward<Start>(start));
  }

  void Close() {
    if (stream) {
      beast::error_code ignored;
      beast::get_lowest_layer(*stream).socket().close(ignored);
      stream.reset();
    }
    buffer.clear();
    requests_on_connection = 0;
  }

  Status Unreachable(const std::string& why) const {
    return Status::Unavailable("cannot connect to " + ep.origin + ": " + why);
  }

  Status Connect() {
    Close();
    const auto timeout = options.timeout;
    net::Lookup lookup =
        net::LookUp(ioc, ep.host, ep.port, std::chrono::steady_clock::now() + timeout);
    if (lookup.timed_out) {
      return Status::DeadlineExceeded("cannot connect to " + ep.origin +
                                      ": looking up the name timed out after " + Seconds(timeout));
    }
    if (lookup.error) {
      return Unreachable("cannot resolve " + ep.host + ": " + ErrorWords(lookup.error));
    }
    const std::vector<tcp::endpoint>& endpoints = lookup.endpoints;

    stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, tls);
    auto& tcp_stream = beast::get_lowest_layer(*stream);
    tcp_stream.expires_after(timeout);
    beast::error_code cec = Run([&](auto handler) {
      tcp_stream.async_connect(
          endpoints,
          [h = std::move(handler)](beast::error_code e, const tcp::endpoint&) mutable { h(e); });
    });
    if (cec) {
      Close();
      if (cec == beast::error::timeout) {
        return Status::DeadlineExceeded("cannot connect to " + ep.origin + ": timed out after " +
                                        Seconds(timeout));
      }
      if (cec == asio::error::connection_refused) {
        return Unreachable(
            "connection refused (is facegated running, with its admin listener "
            "there?)");
      }
      return Unreachable(ErrorWords(cec));
    }
    beast::error_code ignored;
    tcp_stream.socket().set_option(tcp::no_delay(true), ignored);

    SSL* native = stream->native_handle();
    if (ep.is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), ep.host.c_str());
    } else {
      SSL_set_tlsext_host_name(native, ep.host.c_str());
      SSL_set1_host(native, ep.host.c_str());
    }
    ERR_clear_error();
    tcp_stream.expires_after(timeout);
    beast::error_code hec = Run([&](auto handler) {
      stream->async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (hec) {
      const long verify = SSL_get_verify_result(native);
      Close();
      if (hec == beast::error::timeout) {
        return Status::DeadlineExceeded("cannot connect to " + ep.origin +
                                        ": the TLS handshake timed out after " + Seconds(timeout));
      }
      if (verify != X509_V_OK) return Unreachable(VerifyFailure(verify, ep, options.ca_file));
      return Unreachable("TLS handshake failed: " + ErrorWords(hec) +
                         " (is that the admin listener of facegated?)");
    }
    return Status::Ok();
  }

  Status Broken(std::string_view method, std::string_view target, std::string_view doing,
                const beast::error_code& ec, std::chrono::milliseconds timeout) const {
    const std::string what = std::string(method) + " " + ep.origin + std::string(target);
    if (ec == beast::error::timeout) {
      return Status::DeadlineExceeded(what + ": timed out after " + Seconds(timeout) + " " +
                                      std::string(doing));
    }
    if (ClosedByPeer(ec)) {
      return Status::Unavailable(what + ": the server closed the connection " + std::string(doing));
    }
    return Status::Unavailable(what + ": " + ErrorWords(ec) + " " + std::string(doing));
  }

  // One exchange on the connection (opened when needed). *retry: it failed in a way that
  // means the server had closed an idle connection before reading the request.
  Result<ApiResponse> Exchange(http::request<http::string_body>& req, bool expect_continue,
                               std::chrono::milliseconds timeout, bool* retry) {
    *retry = false;
    const bool reused = stream != nullptr && requests_on_connection > 0;
    if (!stream) FACEGATE_RETURN_IF_ERROR(Connect());
    const std::string method(req.method_string());
    const std::string target(req.target());
    auto& tcp_stream = beast::get_lowest_layer(*stream);

    http::request_serializer<http::string_body> serializer(req);
    tcp_stream.expires_after(timeout);
    beast::error_code ec = Run([&](auto handler) {
      if (expect_continue) {
        http::async_write_header(*stream, serializer, std::move(handler));
      } else {
        http::async_write(*stream, serializer, std::move(handler));
      }
    });
    if (ec) {
      Close();
      *retry = reused && ClosedByPeer(ec);
      return Broken(method, target, "while sending the request", ec, timeout);
    }

    std::optional<http::response_parser<http::string_body>> parser;
    parser.emplace();
    parser->body_limit(kMaxResponseBytes);
    tcp_stream.expires_after(timeout);
    ec = Run([&](auto handler) { http::async_read(*stream, buffer, *parser, std::move(handler)); });
    if (ec) {
      const bool nothing = !parser->got_some();
      Close();
      *retry = reused && nothing && ClosedByPeer(ec);
      return Broken(method, target, "waiting for the answer", ec, timeout);
    }
    bool body_sent = !expect_continue;
    if (expect_continue && parser->get().result() == http::status::continue_) {
      tcp_stream.expires_after(timeout);
      ec = Run([&](auto handler) { http::async_write(*stream, serializer, std::move(handler)); });
      if (ec) {
        Close();
        return Broken(method, target, "while sending the request body", ec, timeout);
      }
      body_sent = true;
      parser.emplace();
      parser->body_limit(kMaxResponseBytes);
      tcp_stream.expires_after(timeout);
      ec = Run(
          [&](auto handler) { http::async_read(*stream, buffer, *parser, std::move(handler)); });
      if (ec) {
        Close();
        return Broken(method, target, "waiting for the answer", ec, timeout);
      }
    }
    auto& res = parser->get();
    ApiResponse out = ResponseOf(res, std::move(res.body()));
    ++requests_on_connection;
    // A refused body was never sent: the connection is out of step; so is one the server ends.
    if (!res.keep_alive() || !body_sent) Close();
    return out;
  }

  template <class Fields>
  static ApiResponse ResponseOf(const http::response_header<Fields>& res, std::string body) {
    ApiResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = MediaType(res[http::field::content_type]);
    out.body = std::move(body);
    if (auto ra = res[http::field::retry_after]; !ra.empty()) {
      if (auto s = ParseInt(std::string_view(ra.data(), ra.size()), 0, 86400)) {
        out.retry_after_s = static_cast<int>(*s);
      }
    }
    if (out.content_type == "application/json" ||
        (out.content_type.size() > 5 &&
         out.content_type.compare(out.content_type.size() - 5, 5, "+json") == 0)) {
      out.json = json::parse(out.body, nullptr, false);
      if (out.json.is_discarded()) out.json = nullptr;
    }
    return out;
  }

  // A GET whose 2xx body goes to `sink` (ApiClient::Download).
  Result<ApiResponse> ExchangeDownload(http::request<http::string_body>& req, const BodySink& sink,
                                       std::chrono::milliseconds timeout, bool* retry) {
    *retry = false;
    const bool reused = stream != nullptr && requests_on_connection > 0;
    if (!stream) FACEGATE_RETURN_IF_ERROR(Connect());
    const std::string method(req.method_string());
    const std::string target(req.target());
    auto& tcp_stream = beast::get_lowest_layer(*stream);
    tcp_stream.expires_after(timeout);
    beast::error_code ec =
        Run([&](auto handler) { http::async_write(*stream, req, std::move(handler)); });
    if (ec) {
      Close();
      *retry = reused && ClosedByPeer(ec);
      return Broken(method, target, "while sending the request", ec, timeout);
    }
    // No limit on a download. Not boost::none: Boost 1.74's parser compares a Content-Length
    // with the optional limit directly, and "n > none" is true.
    constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
    http::response_parser<http::empty_body> head;
    head.body_limit(kUnlimited);
    tcp_stream.expires_after(timeout);
    ec = Run(
        [&](auto handler) { http::async_read_header(*stream, buffer, head, std::move(handler)); });
    if (ec) {
      const bool nothing = !head.got_some();
      Close();
      *retry = reused && nothing && ClosedByPeer(ec);
      return Broken(method, target, "waiting for the answer", ec, timeout);
    }
    if (head.get().result_int() < 200 || head.get().result_int() >= 300) {
      http::response_parser<http::string_body> whole(std::move(head));
      whole.body_limit(kMaxResponseBytes);
      tcp_stream.expires_after(timeout);
      ec = Run([&](auto handler) { http::async_read(*stream, buffer, whole, std::move(handler)); });
      if (ec) {
        Close();
        return Broken(method, target, "reading the answer", ec, timeout);
      }
      ApiResponse out = ResponseOf(whole.get(), std::move(whole.get().body()));
      ++requests_on_connection;
      if (!whole.get().keep_alive()) Close();
      return out;
    }
    http::response_parser<http::buffer_body> body(std::move(head));
    body.body_limit(kUnlimited);
    std::vector<char> piece(64 * 1024);
    while (!body.is_done()) {
      body.get().body().data = piece.data();
      body.get().body().size = piece.size();
      tcp_stream.expires_after(timeout);
      ec = Run([&](auto handler) { http::async_read(*stream, buffer, body, std::move(handler)); });
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        Close();
        return Broken(method, target, "before the end of the answer (it is incomplete)", ec,
                      timeout);
      }
      const size_t n = piece.size() - body.get().body().size;
      if (n == 0) continue;
      if (Status s = sink(std::string_view(piece.data(), n)); !s.ok()) {
        Close();  // the rest of the body is not read: the connection is out of step
        return s;
      }
    }
    ApiResponse out = ResponseOf(body.get(), {});
    ++requests_on_connection;
    if (!body.get().keep_alive()) Close();
    return out;
  }
};

ApiClient::ApiClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiClient::~ApiClient() {
  if (impl_) impl_->Close();
}

const std::string& ApiClient::url() const { return impl_->ep.origin; }

Result<std::unique_ptr<ApiClient>> ApiClient::Create(ClientOptions options) {
  auto ep = ParseUrl(options.url);
  if (!ep.ok()) return ep.status();
  FACEGATE_RETURN_IF_ERROR(CheckToken(options.token, "given"));
  auto impl = std::make_unique<Impl>();
  impl->ep = std::move(ep).value();

  // The CA, and nothing else: the system's trust store is never loaded.
  std::error_code fec;
  if (!std::filesystem::exists(options.ca_file, fec)) {
    return Status::InvalidArgument("the CA file " + options.ca_file.string() +
                                   " does not exist (give the daemon's CA, <data_dir>/pki/ca.crt, "
                                   "with --ca FILE)");
  }
  auto pem = ReadFile(options.ca_file, 1 << 20);
  if (!pem.ok()) return pem.status().WithContext("cannot read the CA file");
  // Pinning an intermediate CA works too: the chain may end at any certificate of the file.
  if (Status s = net::TrustOnly(impl->tls, *pem); !s.ok()) {
    return Status::InvalidArgument("the CA file " + options.ca_file.string() + " " + s.message());
  }
  impl->options = std::move(options);
  return std::unique_ptr<ApiClient>(new ApiClient(std::move(impl)));
}

Result<ApiResponse> ApiClient::Request(std::string_view method, std::string_view path_and_query,
                                       std::string_view body, std::string_view content_type) {
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) return Status::InvalidArgument("unknown HTTP method");
  const bool upload = content_type.rfind("multipart/", 0) == 0;
  const auto timeout = upload ? impl_->options.upload_timeout : impl_->options.timeout;
  http::request<http::string_body> req{verb, impl_->ep.prefix + std::string(path_and_query), 11};
  req.set(http::field::host, impl_->ep.host_header);
  req.set(http::field::user_agent, impl_->user_agent);
  req.set(http::field::accept, "application/json");
  req.set(http::field::authorization, "Bearer " + impl_->options.token);
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  req.keep_alive(true);
  req.body() = std::string(body);
  if (!body.empty() || verb == http::verb::post || verb == http::verb::put ||
      verb == http::verb::patch) {
    req.prepare_payload();
  }
  // Large bodies ask first: a refusal (413, 401) comes before megabytes are sent.
  const bool expect_continue = body.size() > 64 * 1024;
  if (expect_continue) req.set(http::field::expect, "100-continue");
  for (int attempt = 0;; ++attempt) {
    bool retry = false;
    auto r = impl_->Exchange(req, expect_continue, timeout, &retry);
    if (r.ok() || !retry || attempt > 0) return r;
    // The server had closed the idle connection: once more on a new one.
  }
}

Result<ApiResponse> ApiClient::Download(std::string_view path_and_query, const BodySink& sink) {
  http::request<http::string_body> req{http::verb::get,
                                       impl_->ep.prefix + std::string(path_and_query), 11};
  req.set(http::field::host, impl_->ep.host_header);
  req.set(http::field::user_agent, impl_->user_agent);
  req.set(http::field::authorization, "Bearer " + impl_->options.token);
  req.keep_alive(true);
  for (int attempt = 0;; ++attempt) {
    bool retry = false;
    auto r = impl_->ExchangeDownload(req, sink, impl_->options.timeout, &retry);
    if (r.ok() || !retry || attempt > 0) return r;
  }
}

Result<ApiResponse> ApiClient::PostJson(std::string_view path, const json& body) {
  return Request("POST", path, body.dump(), "application/json");
}

Result<ApiResponse> ApiClient::PatchJson(std::string_view path, const json& body) {
  return Request("PATCH", path, body.dump(), "application/json");
}

Result<ApiResponse> ApiClient::PutJson(std::string_view path, const json& body) {
  return Request("PUT", path, body.dump(), "application/json");
}

Result<ApiResponse> ApiClient::PostMultipart(std::string_view path,
                                             const std::vector<MultipartPart>& parts) {
  std::string boundary;
  for (int tries = 0;; ++tries) {
    boundary = "facegatectl-" + RandomHex(16);
    bool clash = false;
    for (const auto& p : parts) clash = clash || p.data.find(boundary) != std::string::npos;
    if (!clash || tries > 8) break;
  }
  size_t size = 0;
  for (const auto& p : parts) size += p.data.size() + p.name.size() + p.filename.size() + 160;
  std::string body;
  body.reserve(size + boundary.size() + 8);
  for (const auto& p : parts) {
    body += "--" + boundary + "\r\n";
    body += "Content-Disposition: form-data; name=\"" + DispositionValue(p.name) + "\"";
    if (!p.filename.empty()) body += "; filename=\"" + DispositionValue(p.filename) + "\"";
    body += "\r\n";
    if (!p.content_type.empty()) body += "Content-Type: " + p.content_type + "\r\n";
    body += "\r\n";
    body += p.data;
    body += "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return Request("POST", path, body, "multipart/form-data; boundary=" + boundary);
}

// ---------------------------------------------------------------- errors and exit codes

std::string ErrorText(const ApiResponse& r) {
  std::string out = std::to_string(r.status);
  const json& j = r.json;
  std::string code = j.is_object() && j.contains("error") && j["error"].is_string()
                         ? j["error"].get<std::string>()
                         : std::string(http::obsolete_reason(
                               http::int_to_status(static_cast<unsigned>(r.status))));
  out += " " + code;
  std::string detail;
  if (j.is_object() && j.contains("fields") && j["fields"].is_object()) {
    for (auto it = j["fields"].begin(); it != j["fields"].end(); ++it) {
      if (!detail.empty()) detail += ", ";
      detail += it.key() + ": " +
                (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
    }
  }
  if (detail.empty() && j.is_object() && j.contains("message") && j["message"].is_string()) {
    detail = j["message"].get<std::string>();
  }
  if (detail.empty() && !j.is_object() && !r.body.empty()) {
    detail = r.body.substr(0, r.body.find('\n')).substr(0, 200);
  }
  if (!detail.empty()) out += ": " + detail;
  return out;
}

Status ErrorStatus(const ApiResponse& r) {
  if (r.ok()) return Status::Ok();
  std::string text = ErrorText(r);
  switch (r.status) {
    case 401:
      return Status::Unauthenticated(std::move(text));
    case 403:
      return Status::PermissionDenied(std::move(text));
    case 404:
      return Status::NotFound(std::move(text));
    case 409:
      return Status::AlreadyExists(std::move(text));
    case 400:
    case 413:
    case 415:
    case 422:
      return Status::InvalidArgument(std::move(text));
    case 503:
      return Status::ResourceExhausted(std::move(text));
    default:
      return Status::Internal(std::move(text));
  }
}

int ExitCodeForHttpStatus(int s) {
  if (s >= 200 && s < 300) return kOk;
  if (s == 401 || s == 403) return kDenied;
  if (s == 404) return kNotFound;
  if (s == 409) return kConflict;
  return kFailure;
}

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return kOk;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return kUnreachable;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return kDenied;
    case StatusCode::kNotFound:
      return kNotFound;
    case StatusCode::kAlreadyExists:
      return kConflict;
    default:
      return kFailure;
  }
}

int FailResponse(std::string_view prog, const ApiResponse& response) {
  std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(prog.size()), prog.data(),
               ErrorText(response).c_str());
  return ExitCodeForHttpStatus(response.status);
}

int FailRequest(std::string_view prog, const Status& status) {
  std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(prog.size()), prog.data(),
               status.message().c_str());
  return ExitCodeFor(status);
}

}  // namespace facegate::app::ctl
