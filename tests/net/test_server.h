// Helpers for the tests of src/net: certificate authorities with server and client
// certificates, and an HttpsServer running on 127.0.0.1 (port 0) with its own io_context on two
// threads plus a one-thread "worker pool" for handlers that answer later.
// Thread-safety: a TestServer is driven from the test's thread; its handlers run on the
// server's I/O threads and the worker thread.
#pragma once

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "facegate/core/clock.h"
#include "facegate/core/files.h"
#include "facegate/core/metrics.h"
#include "facegate/net/http_server.h"
#include "facegate/net/listener_options.h"
#include "facegate/net/pki.h"
#include "facegate/net/tls.h"
#include "testing/temp_dir.h"
#include "testing/tls_client.h"

namespace facegate::net::test {

// ---------------------------------------------------------------------------------------------
// Certificates

template <auto FreeFn>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free_all>>;

inline X509Ptr ParseFirstCertificate(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return cert;
}

inline PkeyPtr ParsePrivateKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return key;
}

// The serial number of the first certificate in `pem`, as InspectCertificatePem gives it.
inline std::string SerialOf(const std::string& pem) {
  Result<CertificateInfo> info = InspectCertificatePem(pem);
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return info.ok() ? info->serial_hex : std::string();
}

// A LocalCa in its own temporary directory, dated by the real clock (the TLS peers verify
// certificates against the real time).
class TestCa {
 public:
  TestCa() {
    Result<std::unique_ptr<LocalCa>> ca =
        LocalCa::OpenOrCreate(dir_ / "pki", SystemClock::Instance(), std::chrono::hours(24 * 30));
    EXPECT_TRUE(ca.ok()) << ca.status().ToString();
    if (ca.ok()) ca_ = std::move(ca).value();
    Result<std::string> key = ReadFile(dir_ / "pki" / "ca.key");
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    if (key.ok()) ca_key_ = ParsePrivateKey(*key);
    EXPECT_TRUE(ca_key_) << "cannot parse the CA key";
  }

  bool ok() const { return ca_ && ca_key_; }
  const std::string& pem() const { return ca_->certificate_pem(); }

  // A server certificate for 127.0.0.1 (the chain: leaf, then this CA).
  CertificateAndKey IssueServer(const std::string& common_name = "facegate-test") const {
    ServerCertificateRequest request;
    request.common_name = common_name;
    request.ip_addresses = {"127.0.0.1"};
    Result<CertificateAndKey> issued = ca_->IssueServerCertificate(request);
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    return issued.ok() ? *issued : CertificateAndKey{};
  }

  // A client certificate (extendedKeyUsage clientAuth) signed with this CA's key. LocalCa only
  // issues serverAuth certificates, which a TLS server refuses as client certificates.
  CertificateAndKey IssueClient(const std::string& common_name = "terminal-1") const {
    CertificateAndKey out;
    X509Ptr ca_cert = ParseFirstCertificate(pem());
    PkeyPtr key(EVP_EC_gen("P-256"));
    X509Ptr cert(X509_new());
    bool ok = ca_cert && key && cert && X509_set_version(cert.get(), X509_VERSION_3) == 1;
    unsigned char serial[16];
    ok = ok && RAND_bytes(serial, sizeof serial) == 1;
    serial[0] &= 0x7f;  // positive
    BIGNUM* bn = ok ? BN_bin2bn(serial, sizeof serial, nullptr) : nullptr;
    ok = ok && bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr;
    BN_free(bn);
    X509_NAME* name = X509_get_subject_name(cert.get());
    ok = ok && X509_NAME_add_entry_by_txt(
                   name, "CN", MBSTRING_UTF8,
                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) == 1;
    ok = ok && X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) == 1;
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
         X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600) != nullptr;
    ok = ok && X509_set_pubkey(cert.get(), key.get()) == 1;
    X509V3_CTX v3;
    if (ok) X509V3_set_ctx(&v3, ca_cert.get(), cert.get(), nullptr, nullptr, 0);
    for (auto [nid, value] :
         {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
          std::pair{NID_key_usage, "critical,digitalSignature"},
          std::pair{NID_ext_key_usage, "clientAuth"}, std::pair{NID_subject_key_identifier, "hash"},
          std::pair{NID_authority_key_identifier, "keyid:always"}}) {
      if (!ok) break;
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
      ok = ext != nullptr && X509_add_ext(cert.get(), ext, -1) == 1;
      X509_EXTENSION_free(ext);
    }
    ok = ok && X509_sign(cert.get(), ca_key_.get(), EVP_sha256()) > 0;
    EXPECT_TRUE(ok) << "cannot make a client certificate: " << OpenSslErrors();
    if (!ok) return out;
    BioPtr cert_bio(BIO_new(BIO_s_mem()));
    BioPtr key_bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(cert_bio.get(), cert.get());
    PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long len = BIO_get_mem_data(cert_bio.get(), &data);
    out.certificate_pem.assign(data, static_cast<size_t>(len));
    len = BIO_get_mem_data(key_bio.get(), &data);
    out.private_key_pem.assign(data, static_cast<size_t>(len));
    return out;
  }

 private:
  facegate::testing::TempDir dir_;
  std::unique_ptr<LocalCa> ca_;
  PkeyPtr ca_key_;
};

inline std::shared_ptr<boost::asio::ssl::context> MakeContextOrFail(const TlsServerConfig& config) {
  Result<std::shared_ptr<boost::asio::ssl::context>> ctx = MakeServerTlsContext(config);
  EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
  return ctx.ok() ? *ctx : nullptr;
}

inline TlsServerConfig ServerConfig(const CertificateAndKey& pair) {
  TlsServerConfig config;
  config.certificate_chain_pem = pair.certificate_pem;
  config.private_key_pem = pair.private_key_pem;
  return config;
}

// ---------------------------------------------------------------------------------------------
// Metrics

// The value of the series `name{labels}` ("listener=\"device\",reason=\"timeout\"") in the
// Prometheus text, or -1 when the series is absent.
inline double MetricValue(const MetricsRegistry& metrics, const std::string& name,
                          const std::string& labels) {
  const std::string text = metrics.RenderPrometheus();
  const std::string prefix = name + (labels.empty() ? "" : "{" + labels + "}") + " ";
  size_t pos = 0;
  while ((pos = text.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      return std::strtod(text.c_str() + pos + prefix.size(), nullptr);
    }
    pos += prefix.size();
  }
  return -1;
}

// Polls `condition` until it holds or `timeout` passes (for state the server changes on its
// own threads after the client has seen the outcome). Returns the final value.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Server

// Short limits and timeouts so that limit and timeout tests finish quickly.
inline ListenerOptions TestListenerOptions() {
  ListenerOptions options;
  options.name = "device";
  options.address = "127.0.0.1";
  options.port = 0;
  options.max_connections = 16;
  options.max_header_bytes = 4096;
  options.max_body_bytes = 1024;
  options.handshake_timeout_ms = 400;
  options.request_timeout_ms = 400;
  options.idle_timeout_ms = 1000;
  options.write_timeout_ms = 1000;
  return options;
}

// An HttpsServer on 127.0.0.1:0 with I/O on two threads. The routes:
//   GET  /hello        200 "hi"
//   GET  /healthz      200 {"status":"ok"}
//   POST /echo         200 with the request body
//   GET  /slow         200 "slow" from the worker thread after kSlowMs
//   GET  /drop         the handler drops its Responder (the server must answer 500)
//   GET  /big          200 with kBigBytes of body
//   GET  /throw        the handler throws (500 as well)
//   GET  /items/{id}   200 "<route> <id>"
//   GET  /whoami       200 with the client certificate's serial, or "none"
class TestServer {
 public:
  static constexpr int kSlowMs = 300;
  // More than loopback socket buffers hold, so that a client that does not read stalls it.
  static constexpr size_t kBigBytes = 64 << 20;

  TestServer(ListenerOptions options, std::shared_ptr<boost::asio::ssl::context> tls)
      : options_(std::move(options)), tls_(std::move(tls)) {
    // TlsClient writes through OpenSSL's socket BIO without MSG_NOSIGNAL: a client writing
    // its ClientHello to a connection the server has just refused would kill the test binary.
    std::signal(SIGPIPE, SIG_IGN);
  }
  ~TestServer() { Stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  Status Start() {
    auto router = std::make_shared<Router>();
    AddRoutes(router.get());
    server_ = std::make_unique<HttpsServer>(io_, options_, tls_, router, &metrics_);
    Status started = server_->Start();
    if (!started.ok()) return started;
    for (int i = 0; i < 2; ++i) io_threads_.emplace_back([this] { io_.run(); });
    worker_thread_ = std::thread([this] { worker_.run(); });
    return Status::Ok();
  }

  // Drains the server, lets the worker answer what it holds, waits (bounded) for the
  // connections to close, then stops the I/O threads.
  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    if (server_) server_->Drain();
    worker_guard_.reset();
    if (worker_thread_.joinable()) worker_thread_.join();
    {
      std::lock_guard lock(stream_mu_);
      for (auto& t : stream_threads_) t.join();
      stream_threads_.clear();
    }
    if (server_) {
      EXPECT_TRUE(Eventually([this] { return server_->open_connections() == 0; }))
          << server_->open_connections() << " connections still open at the end of the test";
    }
    io_guard_.reset();
    io_.stop();
    for (auto& t : io_threads_) t.join();
    io_threads_.clear();
    server_.reset();
  }

  HttpsServer& server() { return *server_; }
  MetricsRegistry& metrics() { return metrics_; }
  uint16_t port() const { return server_->bound_port(); }
  double Metric(const std::string& name, const std::string& labels) const {
    return MetricValue(metrics_, name, labels);
  }

  // Streamed answers (/stream/{n}, /stream-abort, /stream-forever): how the producers ended.
  std::atomic<int> streams_finished{0};
  std::atomic<int> streams_stopped_by_client{0};

  Result<std::unique_ptr<facegate::testing::TlsClient>> Connect(
      const facegate::testing::TlsClientOptions& options = {}) const {
    return facegate::testing::TlsClient::Connect("127.0.0.1", port(), options);
  }

 private:
  void AddRoutes(Router* router) {
    namespace http = boost::beast::http;
    auto text = [](const HttpRequest& req, std::string body) {
      HttpResponse res{http::status::ok, req.version()};
      res.set(http::field::content_type, "text/plain");
      res.keep_alive(req.keep_alive());
      res.body() = std::move(body);
      res.prepare_payload();
      return res;
    };
    router->Add(
        http::verb::get, "/hello", "hello",
        [text](std::shared_ptr<RequestContext> c, Responder r) { r(text(c->message, "hi")); });
    router->Add(http::verb::get, "/healthz", "healthz",
                [](std::shared_ptr<RequestContext> c, Responder r) {
                  r(MakeJsonResponse(c->message, http::status::ok, R"({"status":"ok"})"));
                });
    router->Add(http::verb::post, "/echo", "echo",
                [text](std::shared_ptr<RequestContext> c, Responder r) {
                  r(text(c->message, c->message.body()));
                });
    router->Add(http::verb::get, "/slow", "slow",
                [this, text](std::shared_ptr<RequestContext> c, Responder r) {
                  auto timer = std::make_shared<boost::asio::steady_timer>(
                      worker_, std::chrono::milliseconds(kSlowMs));
                  timer->async_wait([timer, c, r, text](boost::system::error_code) {
                    r(text(c->message, "slow"));
                  });
                });
    router->Add(http::verb::get, "/drop", "drop", [](std::shared_ptr<RequestContext>, Responder) {
      // The Responder goes out of scope unanswered.
    });
    router->Add(http::verb::get, "/big", "big",
                [text](std::shared_ptr<RequestContext> c, Responder r) {
                  r(text(c->message, std::string(kBigBytes, 'z')));
                });
    router->Add(http::verb::get, "/throw", "throw", [](std::shared_ptr<RequestContext>, Responder) {
      throw std::runtime_error("handler bug");
    });
    router->Add(http::verb::get, "/items/{id}", "item",
                [text](std::shared_ptr<RequestContext> c, Responder r) {
                  std::string body = c->route;
                  for (const auto& p : c->path_params) body += " " + p;
                  r(text(c->message, body));
                });
    // Streamed bodies, produced on a thread of their own as a worker pool would.
    auto stream = [this](Responder r, std::function<void(ChunkedWriter&)> produce) {
      std::lock_guard lock(stream_mu_);
      stream_threads_.emplace_back([r, produce] {
        HttpResponse head{http::status::ok, 11};
        head.set(http::field::content_type, "text/plain");
        auto out = r.Stream(std::move(head));
        if (out) produce(*out);
      });
    };
    router->Add(http::verb::get, "/stream/{n}", "stream",
                [this, stream](std::shared_ptr<RequestContext> c, Responder r) {
                  const int n = std::atoi(c->path_params[0].c_str());
                  stream(r, [this, n](ChunkedWriter& out) {
                    for (int i = 0; i < n; ++i) {
                      if (!out.Write("piece " + std::to_string(i) + "\n")) return;
                    }
                    if (out.Finish()) streams_finished.fetch_add(1);
                  });
                });
    router->Add(http::verb::get, "/stream-abort", "stream_abort",
                [stream](std::shared_ptr<RequestContext>, Responder r) {
                  stream(r, [](ChunkedWriter& out) {
                    out.Write("a first piece\n");
                    out.Write("and a second\n");
                    out.Abort();  // as a producer that failed half-way
                  });
                });
    router->Add(http::verb::get, "/stream-forever", "stream_forever",
                [this, stream](std::shared_ptr<RequestContext>, Responder r) {
                  stream(r, [this](ChunkedWriter& out) {
                    const std::string piece(64 * 1024, 'f');
                    while (out.Write(piece)) {
                    }
                    streams_stopped_by_client.fetch_add(1);
                  });
                });
    router->Add(
        http::verb::get, "/whoami", "whoami",
        [text](std::shared_ptr<RequestContext> c, Responder r) {
          r(text(c->message, c->peer_certificate ? c->peer_certificate->serial_hex : "none"));
        });
  }

  ListenerOptions options_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  // Declared before io_: sessions destroyed with the io_context still update its series.
  MetricsRegistry metrics_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> io_guard_{
      io_.get_executor()};
  std::vector<std::thread> io_threads_;
  boost::asio::io_context worker_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> worker_guard_{
      worker_.get_executor()};
  std::thread worker_thread_;
  std::mutex stream_mu_;
  std::vector<std::thread> stream_threads_;  // GUARDED_BY(stream_mu_)
  std::unique_ptr<HttpsServer> server_;
  bool stopped_ = false;
};

}  // namespace facegate::net::test
