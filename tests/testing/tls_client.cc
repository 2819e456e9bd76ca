#include "testing/tls_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

namespace facegate::testing {

namespace http = boost::beast::http;

namespace {

std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace

int ConnectTcp(const std::string& host, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

struct TlsClient::Impl {
  ~Impl() {
    if (ssl) SSL_free(ssl);
    if (ctx) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  std::string pending;  // bytes read past the previous response
};

TlsClient::TlsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsClient::~TlsClient() = default;

Result<std::unique_ptr<TlsClient>> TlsClient::Connect(const std::string& host, uint16_t port,
                                                      const TlsClientOptions& o) {
  // A server that refuses us may close the socket under a write: no SIGPIPE for the test.
  static const bool sigpipe_ignored = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)sigpipe_ignored;
  ERR_clear_error();
  auto impl = std::make_unique<Impl>();
  impl->ctx = SSL_CTX_new(TLS_client_method());
  if (o.min_version) SSL_CTX_set_min_proto_version(impl->ctx, o.min_version);
  if (o.max_version) SSL_CTX_set_max_proto_version(impl->ctx, o.max_version);
  if (!o.cipher_list.empty() && SSL_CTX_set_cipher_list(impl->ctx, o.cipher_list.c_str()) != 1) {
    return Status::InvalidArgument("cipher list refused: " + SslErrors());
  }
  if (!o.ca_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(o.ca_pem.data(), static_cast<int>(o.ca_pem.size()));
    X509_STORE* store = SSL_CTX_get_cert_store(impl->ctx);
    while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, x);
      X509_free(x);
    }
    BIO_free(bio);
    ERR_clear_error();
    SSL_CTX_set_verify(impl->ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (!o.client_cert_pem.empty()) {
    BIO* bio =
        BIO_new_mem_buf(o.client_cert_pem.data(), static_cast<int>(o.client_cert_pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    BIO* kbio = BIO_new_mem_buf(o.client_key_pem.data(), static_cast<int>(o.client_key_pem.size()));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(kbio, nullptr, nullptr, nullptr);
    BIO_free(kbio);
    bool ok = x && k && SSL_CTX_use_certificate(impl->ctx, x) == 1 &&
              SSL_CTX_use_PrivateKey(impl->ctx, k) == 1;
    X509_free(x);
    EVP_PKEY_free(k);
    if (!ok) return Status::InvalidArgument("client certificate/key refused: " + SslErrors());
  }
  impl->fd = ConnectTcp(host, port);
  if (impl->fd < 0)
    return Status::Unavailable("cannot connect to " + host + ":" + std::to_string(port));
  timeval tv{static_cast<time_t>(o.timeout.count() / 1000),
             static_cast<suseconds_t>((o.timeout.count() % 1000) * 1000)};
  ::setsockopt(impl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(impl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  impl->ssl = SSL_new(impl->ctx);
  SSL_set_fd(impl->ssl, impl->fd);
  if (!o.server_name.empty()) {
    SSL_set_tlsext_host_name(impl->ssl, o.server_name.c_str());
    if (!o.ca_pem.empty()) SSL_set1_host(impl->ssl, o.server_name.c_str());
  }
  if (SSL_connect(impl->ssl) != 1) {
    long verify = SSL_get_verify_result(impl->ssl);
    std::string why = SslErrors();
    if (verify != X509_V_OK)
      why += " (verify: " + std::string(X509_verify_cert_error_string(verify)) + ")";
    return Status::Unavailable("TLS handshake failed: " +
                               (why.empty() ? "connection closed" : why));
  }
  return std::unique_ptr<TlsClient>(new TlsClient(std::move(impl)));
}

std::string TlsClient::protocol_version() const { return SSL_get_version(impl_->ssl); }

std::string TlsClient::peer_certificate_pem() const {
  X509* x = SSL_get1_peer_certificate(impl_->ssl);
  if (!x) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  X509_free(x);
  return out;
}

Status TlsClient::Write(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    int n = SSL_write(impl_->ssl, bytes.data() + off, static_cast<int>(bytes.size() - off));
    if (n <= 0) return Status::IOError("TLS write failed: " + SslErrors());
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<HttpReply> TlsClient::ReadResponse() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string& buf = impl_->pending;
  for (;;) {
    if (!buf.empty()) {
      size_t used = parser.put(boost::asio::buffer(buf), ec);
      buf.erase(0, used);
      if (ec == http::error::need_more) {
        ec = {};
      } else if (ec) {
        return Status::InvalidArgument("bad HTTP response: " + ec.message());
      }
      if (parser.is_done()) break;
      if (used > 0 && !buf.empty()) continue;
    }
    char chunk[16384];
    int n = SSL_read(impl_->ssl, chunk, sizeof chunk);
    if (n <= 0) {
      if (parser.is_header_done() && !parser.is_done()) {
        parser.put_eof(ec);
        if (!ec && parser.is_done()) break;
      }
      return Status::Unavailable("connection closed before a whole response: " + SslErrors());
    }
    buf.append(chunk, static_cast<size_t>(n));
  }
  auto msg = parser.release();
  HttpReply reply;
  reply.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  reply.keep_alive = msg.keep_alive();
  reply.body = std::move(msg.body());
  return reply;
}

Result<HttpReply> TlsClient::Request(const std::string& method, const std::string& target,
                                     const std::string& body,
                                     const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: facegate\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  FACEGATE_RETURN_IF_ERROR(Write(req));
  return ReadResponse();
}

Result<std::string> TlsClient::ReadAtLeast(size_t at_least) {
  std::string& buf = impl_->pending;
  while (buf.size() < at_least) {
    char chunk[16384];
    int n = SSL_read(impl_->ssl, chunk, sizeof chunk);
    if (n <= 0) {
      return Status::IOError("connection closed after " + std::to_string(buf.size()) +
                             " bytes: " + SslErrors());
    }
    buf.append(chunk, static_cast<size_t>(n));
  }
  return buf;
}

bool TlsClient::WaitForClose(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (SSL_pending(impl_->ssl) == 0) {
      pollfd pfd{impl_->fd, POLLIN, 0};
      int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (r == 0) return false;
    }
    char c[4096];
    int n = SSL_read(impl_->ssl, c, sizeof c);
    if (n <= 0) {
      int err = SSL_get_error(impl_->ssl, n);
      if (err == SSL_ERROR_WANT_READ) continue;
      return true;  // close_notify, EOF or reset
    }
  }
}

}  // namespace facegate::testing
