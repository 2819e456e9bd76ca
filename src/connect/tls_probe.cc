#include "connect/tls_probe.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>

#include "facegate/net/tls.h"

namespace facegate::connect::internal {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

ProbeResult ProbeTls(const TlsProbeRequest& r) {
  ProbeResult out;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(r.port);
  if (int e = ::getaddrinfo(r.host.c_str(), port.c_str(), &hints, &found); e != 0) {
    out.stage = ProbeResult::Stage::kTcp;
    out.message = "cannot resolve " + r.host + ": " + gai_strerror(e);
    return out;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  Fd sock;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(r.timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((r.timeout.count() % 1000) * 1000);
  for (addrinfo* a = found; a && sock.fd < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      sock.fd = fd;
    } else {
      ::close(fd);
    }
  }
  if (sock.fd < 0) {
    out.stage = ProbeResult::Stage::kTcp;
    out.message = "no TCP connection to " + r.host + ":" + port;
    return out;
  }
  out.stage = ProbeResult::Stage::kTls;
  std::unique_ptr<SSL_CTX, decltype(&::SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          &::SSL_CTX_free);
  if (!ctx) {
    out.message = "no TLS context: " + net::OpenSslErrors();
    return out;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx.get(), r.ca_file.c_str(), nullptr) != 1) {
    out.message = "the CA file " + r.ca_file + " is not usable: " + net::OpenSslErrors();
    return out;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), r.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), r.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    out.message = "the client certificate or key is not usable: " + net::OpenSslErrors();
    return out;
  }
  std::unique_ptr<SSL, decltype(&::SSL_free)> ssl(SSL_new(ctx.get()), &::SSL_free);
  SSL_set_fd(ssl.get(), sock.fd);
  SSL_set_tlsext_host_name(ssl.get(), r.host.c_str());
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (X509_VERIFY_PARAM_set1_ip_asc(param, r.host.c_str()) != 1) {
    X509_VERIFY_PARAM_set1_host(param, r.host.c_str(), 0);
  }
  ERR_clear_error();
  if (SSL_connect(ssl.get()) != 1) {
    const long verify = SSL_get_verify_result(ssl.get());
    out.message = verify != X509_V_OK ? std::string("the broker's certificate is not trusted: ") +
                                            X509_verify_cert_error_string(verify)
                                      : "the TLS handshake failed: " + net::OpenSslErrors();
    return out;
  }
  // With TLS 1.3 the broker judges the client certificate after the handshake: a refusal
  // is an alert on the first read. A broker waiting for CONNECT sends nothing (a timeout).
  char byte;
  ERR_clear_error();
  const int n = SSL_read(ssl.get(), &byte, 1);
  if (n <= 0) {
    const int e = SSL_get_error(ssl.get(), n);
    if (e == SSL_ERROR_SSL) {
      out.message = "the broker refused the client certificate: " + net::OpenSslErrors();
      return out;
    }
  }
  out.stage = ProbeResult::Stage::kOk;
  return out;
}

}  // namespace facegate::connect::internal
