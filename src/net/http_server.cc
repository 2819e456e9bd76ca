#include "facegate/net/http_server.h"

#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

namespace facegate::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

// ---------------------------------------------------------------------------------------------
// Responses and routing

HttpResponse MakeJsonResponse(const HttpRequest& request, http::status status, std::string body) {
  HttpResponse res{status, request.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

HttpResponse MakeErrorResponse(const HttpRequest& request, http::status status,
                               std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", code}, {"message", message}};
  return MakeJsonResponse(request, status, body.dump() + "\n");
}

namespace {

std::vector<std::string> SplitPath(std::string_view target) {
  auto q = target.find_first_of("?#");
  if (q != std::string_view::npos) target = target.substr(0, q);
  std::vector<std::string> out;
  size_t start = 1;  // targets start with '/'
  if (target.empty() || target[0] != '/') return {"\x01invalid"};
  while (start <= target.size()) {
    size_t end = target.find('/', start);
    if (end == std::string_view::npos) end = target.size();
    out.emplace_back(target.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool IsParam(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::Add(http::verb method, std::string pattern, std::string route_name, Handler handler) {
  routes_.push_back(Route{method, SplitPath(pattern), std::move(route_name), std::move(handler)});
}

const Handler* Router::Match(RequestContext* context, HttpResponse* error) const {
  auto segments = SplitPath(context->message.target());
  std::string allowed;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::vector<std::string> params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      if (IsParam(route.segments[i])) {
        match = !segments[i].empty();
        params.push_back(segments[i]);
      } else {
        match = route.segments[i] == segments[i];
      }
    }
    if (!match) continue;
    if (route.method != context->message.method()) {
      if (!allowed.empty()) allowed += ", ";
      allowed += std::string(http::to_string(route.method));
      continue;
    }
    context->route = route.name;
    context->path_params = std::move(params);
    return &route.handler;
  }
  if (!allowed.empty()) {
    context->route = "method_not_allowed";
    *error = MakeErrorResponse(context->message, http::status::method_not_allowed,
                               "method_not_allowed", "this path accepts " + allowed);
    error->set(http::field::allow, allowed);
  } else {
    context->route = "not_found";
    *error = MakeErrorResponse(context->message, http::status::not_found, "not_found",
                               "no such endpoint");
  }
  return nullptr;
}

void Responder::operator()(HttpResponse response) const {
  if (state_->answered.exchange(true)) return;
  state_->sink->Deliver(std::move(response));
}

std::unique_ptr<ChunkedWriter> Responder::Stream(HttpResponse head) const {
  if (state_->answered.exchange(true)) return nullptr;
  return state_->sink->BeginStream(std::move(head));
}

Responder::State::~State() {
  if (!answered.load()) {
    HttpResponse res{http::status::internal_server_error, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = R"({"error":"internal","message":"the request was dropped without an answer"})"
                 "\n";
    res.prepare_payload();
    sink->Deliver(std::move(res));
  }
}

// ---------------------------------------------------------------------------------------------
// Server

namespace {

class Session;

std::string SerialHex(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (!bn) return {};
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

std::string NameText(X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::chrono::system_clock::time_point AsTimePoint(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

struct HttpsServer::Impl : std::enable_shared_from_this<HttpsServer::Impl> {
  Impl(asio::io_context& io_context, ListenerOptions opts, std::shared_ptr<ssl::context> tls_ctx,
       std::shared_ptr<const Router> r, MetricsRegistry* m)
      : io(io_context),
        options(std::move(opts)),
        tls(std::move(tls_ctx)),
        router(std::move(r)),
        metrics(m),
        acceptor(asio::make_strand(io_context)),
        retry_timer(acceptor.get_executor()) {
    const std::vector<std::string> l = {"listener"};
    const std::vector<std::string> v = {options.name};
    connections_gauge =
        metrics->GetGauge("facegate_http_connections", "Open connections per listener.", l, v);
    accepted = metrics->GetCounter("facegate_http_connections_accepted_total",
                                   "Connections accepted per listener.", l, v);
    in_flight_gauge = metrics->GetGauge("facegate_http_requests_in_flight",
                                        "Requests being handled per listener.", l, v);
    handshake_failures = metrics->GetCounter("facegate_tls_handshake_failures_total",
                                             "TLS handshakes that failed per listener.", l, v);
  }

  Counter* Rejected(const std::string& reason) {
    return metrics->GetCounter("facegate_http_connections_rejected_total",
                               "Connections closed at once, by reason.", {"listener", "reason"},
                               {options.name, reason});
  }
  Counter* ReadErrors(const std::string& reason) {
    return metrics->GetCounter("facegate_http_request_errors_total",
                               "Requests that failed before reaching a handler, by reason.",
                               {"listener", "reason"}, {options.name, reason});
  }
  void CountRequest(const std::string& route, unsigned code, double seconds) {
    metrics
        ->GetCounter("facegate_http_requests_total", "Requests answered, by route and status.",
                     {"listener", "route", "code"}, {options.name, route, std::to_string(code)})
        ->Increment();
    metrics
        ->GetHistogram("facegate_http_request_duration_seconds",
                       "Time from the whole request read to the answer handed to the socket.",
                       MetricsRegistry::LatencyBucketsSeconds(), {"listener", "route"},
                       {options.name, route})
        ->Observe(seconds);
  }

  std::shared_ptr<ssl::context> CurrentTls() {
    std::lock_guard lock(mu);
    return tls;
  }

  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Register(const std::shared_ptr<Session>& s);
  void Unregister(uint64_t id);

  asio::io_context& io;
  ListenerOptions options;
  std::mutex mu;
  std::shared_ptr<ssl::context> tls;  // GUARDED_BY(mu)
  std::shared_ptr<const Router> router;
  MetricsRegistry* metrics;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  uint16_t port = 0;
  std::atomic<bool> draining{false};
  std::atomic<size_t> connections{0};
  std::atomic<size_t> in_flight{0};
  std::atomic<uint64_t> next_id{1};
  std::map<uint64_t, std::weak_ptr<Session>> sessions;  // GUARDED_BY(mu)
  Gauge* connections_gauge;
  Counter* accepted;
  Gauge* in_flight_gauge;
  Counter* handshake_failures;
};

namespace {

class Session : public std::enable_shared_from_this<Session>, public Responder::Sink {
 public:
  Session(std::shared_ptr<HttpsServer::Impl> server, tcp::socket&& socket,
          std::shared_ptr<ssl::context> tls, uint64_t id)
      : server_(std::move(server)),
        tls_(std::move(tls)),
        stream_(std::move(socket), *tls_),
        id_(id) {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) {
      remote_address_ = ep.address().to_string();
      remote_port_ = ep.port();
    }
  }

  ~Session() override {
    server_->connections.fetch_sub(1);
    server_->connections_gauge->Add(-1);
    server_->Unregister(id_);
  }

  uint64_t id() const { return id_; }

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Handshake(); });
  }

  // Called (through the strand) when the server starts draining.
  void OnDrain() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kHandshake || self->state_ == State::kIdle) {
        beast::get_lowest_layer(self->stream_).cancel();
      }
    });
  }

  void Deliver(HttpResponse response) override {
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), r = std::move(response)]() mutable {
                 self->WriteResponse(std::move(r));
               });
  }

  std::unique_ptr<ChunkedWriter> BeginStream(HttpResponse head) override;

  // A streamed body's next piece (`last`: the final zero-length chunk), written on the strand;
  // blocks the calling worker thread until it is written. False: not written (client gone,
  // timeout, the server stopping).
  bool WriteChunk(std::string_view data, bool last) {
    auto framed = std::make_shared<std::string>();
    if (last) {
      *framed = "0\r\n\r\n";
    } else {
      char size[20];
      std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      framed->reserve(data.size() + 24);
      framed->append(size).append(data).append("\r\n");
    }
    return WaitOnStrand([self = shared_from_this(), framed, last](auto done) {
      if (self->state_ != State::kStreaming) return done(asio::error::operation_aborted);
      beast::get_lowest_layer(self->stream_)
          .expires_after(std::chrono::milliseconds(self->server_->options.write_timeout_ms));
      asio::async_write(self->stream_, asio::buffer(*framed),
                        [self, framed, last, done](beast::error_code ec, size_t) {
                          if (ec) {
                            spdlog::debug("listener={} remote={}:{} streamed write failed: {}",
                                          self->server_->options.name, self->remote_address_,
                                          self->remote_port_, ec.message());
                            self->state_ = State::kClosing;
                          } else if (last) {
                            self->EndStream();
                          }
                          done(ec);
                        });
    });
  }

  // Cuts a stream short: no last chunk, no TLS close_notify, so the client sees a truncated
  // body rather than a complete one.
  void AbortStream() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ != State::kStreaming) return;
      self->state_ = State::kClosing;
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(self->stream_).close();
    });
  }

 private:
  enum class State { kHandshake, kIdle, kReading, kHandling, kWriting, kStreaming, kClosing };

  // Runs `start(done)` on the strand, where it starts one write and calls done(ec) when it
  // completes, and waits for that. The wait is bounded (the write has its own deadline; this
  // one covers an io_context that stopped running).
  template <typename Start>
  bool WaitOnStrand(Start start) {
    auto promise = std::make_shared<std::promise<beast::error_code>>();
    std::future<beast::error_code> result = promise->get_future();
    asio::post(stream_.get_executor(), [start = std::move(start), promise]() mutable {
      start([promise](beast::error_code ec) { promise->set_value(ec); });
    });
    const auto limit =
        std::chrono::milliseconds(server_->options.write_timeout_ms) + std::chrono::seconds(5);
    if (result.wait_for(limit) != std::future_status::ready) return false;
    try {
      return !result.get();
    } catch (const std::future_error&) {  // the handler was dropped: the server stopped
      return false;
    }
  }

  void EndStream() {
    const bool keep_alive = stream_keep_alive_;
    state_ = State::kWriting;
    if (!keep_alive) return Close();
    ReadNext();
  }

  void Handshake() {
    state_ = State::kHandshake;
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::milliseconds(server_->options.handshake_timeout_ms));
    stream_.async_handshake(
        ssl::stream_base::server,
        [self = shared_from_this()](beast::error_code ec) { self->OnHandshake(ec); });
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      server_->handshake_failures->Increment();
      bool verify_failed = SSL_get_verify_result(stream_.native_handle()) != X509_V_OK;
      if (verify_failed) {
        spdlog::warn("listener={} remote={}:{} TLS handshake refused the client certificate: {}",
                     server_->options.name, remote_address_, remote_port_,
                     X509_verify_cert_error_string(SSL_get_verify_result(stream_.native_handle())));
      } else {
        spdlog::debug("listener={} remote={}:{} TLS handshake failed: {}", server_->options.name,
                      remote_address_, remote_port_, ec.message());
      }
      return;  // the socket closes with the session
    }
    if (X509* cert = SSL_get0_peer_certificate(stream_.native_handle())) {
      peer_certificate_ = PeerCertificate{SerialHex(cert), NameText(X509_get_subject_name(cert)),
                                          AsTimePoint(X509_get0_notAfter(cert))};
    }
    ReadNext();
  }

  void ReadNext() {
    if (server_->draining.load()) return Close();
    state_ = State::kIdle;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(server_->options.max_body_bytes));
    int timeout_ms =
        requests_ == 0 ? server_->options.request_timeout_ms : server_->options.idle_timeout_ms;
    beast::get_lowest_layer(stream_).expires_after(std::chrono::milliseconds(timeout_ms));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    state_ = State::kReading;
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::milliseconds(server_->options.request_timeout_ms));
    const auto& req = parser_->get();
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue") && !parser_->is_done()) {
      // Tell the client to go on rather than letting it wait for its own timeout.
      continue_ = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *continue_,
                        [self = shared_from_this()](beast::error_code wec, size_t) {
                          if (wec) return;
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == ssl::error::stream_truncated) {
      return Close();
    }
    if (ec == beast::error::timeout) {
      server_->ReadErrors("timeout")->Increment();
      spdlog::debug("listener={} remote={}:{} closed: {} timed out", server_->options.name,
                    remote_address_, remote_port_,
                    state_ == State::kIdle ? "waiting for a request" : "reading a request");
      return;  // an unresponsive peer gets no TLS close_notify exchange
    }
    if (ec == asio::error::operation_aborted) return Close();  // drain
    if (ec == http::error::header_limit) {
      server_->ReadErrors("header_too_large")->Increment();
      return WriteEarlyError(http::status::request_header_fields_too_large, "header_too_large",
                             "the request header is larger than " +
                                 std::to_string(server_->options.max_header_bytes) + " bytes");
    }
    if (ec == http::error::body_limit) {
      server_->ReadErrors("body_too_large")->Increment();
      return WriteEarlyError(http::status::payload_too_large, "body_too_large",
                             "the request body is larger than " +
                                 std::to_string(server_->options.max_body_bytes) + " bytes");
    }
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() ||
        ec == http::error::partial_message) {
      server_->ReadErrors("bad_request")->Increment();
      return WriteEarlyError(http::status::bad_request, "bad_request",
                             "malformed HTTP request: " + ec.message());
    }
    spdlog::debug("listener={} remote={}:{} read failed: {}", server_->options.name,
                  remote_address_, remote_port_, ec.message());
  }

  void OnRead(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    ++requests_;
    auto context = std::make_shared<RequestContext>();
    context->message = parser_->release();
    context->listener = server_->options.name;
    context->remote_address = remote_address_;
    context->remote_port = remote_port_;
    context->peer_certificate = peer_certificate_;
    context->received_at = std::chrono::steady_clock::now();
    keep_alive_ = context->message.keep_alive();
    version_ = context->message.version();
    started_ = context->received_at;
    state_ = State::kHandling;
    server_->in_flight.fetch_add(1);
    server_->in_flight_gauge->Add(1);
    // While a handler works the connection has no read deadline: the handler owns the time.
    beast::get_lowest_layer(stream_).expires_never();

    HttpResponse error;
    const Handler* handler = server_->router->Match(context.get(), &error);
    route_ = context->route;
    method_ = std::string(context->message.method_string());
    target_ = std::string(context->message.target().substr(0, 200));
    if (!handler) return WriteResponse(std::move(error));
    try {
      (*handler)(context, Responder(shared_from_this()));
    } catch (const std::exception& e) {
      spdlog::error("listener={} route={} handler threw: {}", server_->options.name, route_,
                    e.what());
      // The Responder given to the handler answers 500 when it is dropped.
    }
  }

  void WriteEarlyError(http::status status, std::string_view code, const std::string& message) {
    HttpRequest req;
    req.version(11);
    auto res = MakeErrorResponse(req, status, code, message);
    res.keep_alive(false);
    state_ = State::kHandling;
    keep_alive_ = false;
    version_ = 11;
    started_ = std::chrono::steady_clock::now();
    route_ = "rejected";
    server_->in_flight.fetch_add(1);
    server_->in_flight_gauge->Add(1);
    WriteResponse(std::move(res));
  }

  void WriteResponse(HttpResponse res) {
    if (state_ != State::kHandling) return;
    server_->in_flight.fetch_sub(1);
    server_->in_flight_gauge->Add(-1);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    unsigned code = res.result_int();
    server_->CountRequest(route_, code, seconds);
    spdlog::debug("listener={} remote={}:{} method={} target={} route={} status={} ms={:.1f}",
                  server_->options.name, remote_address_, remote_port_, method_, target_, route_,
                  code, seconds * 1000);
    res.version(version_);
    res.set(http::field::server, "facegate");
    res.keep_alive(keep_alive_ && !server_->draining.load());
    res.prepare_payload();
    response_ = std::make_shared<HttpResponse>(std::move(res));
    state_ = State::kWriting;
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::milliseconds(server_->options.write_timeout_ms));
    http::async_write(
        stream_, *response_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  // On the strand: the head of a streamed answer (metrics and the log line as for any answer).
  void WriteStreamHead(HttpResponse head, std::function<void(beast::error_code)> done) {
    if (state_ != State::kHandling) return done(asio::error::operation_aborted);
    server_->in_flight.fetch_sub(1);
    server_->in_flight_gauge->Add(-1);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    unsigned code = head.result_int();
    server_->CountRequest(route_, code, seconds);
    spdlog::debug(
        "listener={} remote={}:{} method={} target={} route={} status={} ms={:.1f} "
        "streamed",
        server_->options.name, remote_address_, remote_port_, method_, target_, route_, code,
        seconds * 1000);
    stream_head_ = std::make_shared<http::response<http::empty_body>>(head.result(), version_);
    for (const auto& field : head) {
      if (field.name() == http::field::content_length ||
          field.name() == http::field::transfer_encoding ||
          field.name() == http::field::connection) {
        continue;
      }
      stream_head_->set(field.name_string(), field.value());
    }
    stream_head_->set(http::field::server, "facegate");
    stream_keep_alive_ = keep_alive_ && !server_->draining.load();
    stream_head_->keep_alive(stream_keep_alive_);
    stream_head_->chunked(true);
    stream_serializer_ =
        std::make_shared<http::response_serializer<http::empty_body>>(*stream_head_);
    state_ = State::kStreaming;
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::milliseconds(server_->options.write_timeout_ms));
    http::async_write_header(stream_, *stream_serializer_,
                             [self = shared_from_this(), done](beast::error_code ec, size_t) {
                               if (ec) self->state_ = State::kClosing;
                               done(ec);
                             });
  }

  void OnWrite(beast::error_code ec) {
    if (ec) {
      spdlog::debug("listener={} remote={}:{} write failed: {}", server_->options.name,
                    remote_address_, remote_port_, ec.message());
      return;
    }
    bool close = response_->need_eof();
    response_.reset();
    if (close) return Close();
    ReadNext();
  }

  void Close() {
    if (state_ == State::kClosing) return;
    state_ = State::kClosing;
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(self->stream_).close();
    });
  }

  std::shared_ptr<HttpsServer::Impl> server_;
  std::shared_ptr<ssl::context> tls_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  uint64_t id_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::empty_body>> continue_;
  std::shared_ptr<HttpResponse> response_;
  std::shared_ptr<http::response<http::empty_body>> stream_head_;
  std::shared_ptr<http::response_serializer<http::empty_body>> stream_serializer_;
  bool stream_keep_alive_ = false;
  std::optional<PeerCertificate> peer_certificate_;
  std::string remote_address_;
  uint16_t remote_port_ = 0;
  State state_ = State::kHandshake;
  unsigned requests_ = 0;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  std::chrono::steady_clock::time_point started_;
  std::string route_, method_, target_;
};

class SessionChunkedWriter final : public ChunkedWriter {
 public:
  explicit SessionChunkedWriter(std::shared_ptr<Session> session) : session_(std::move(session)) {}
  ~SessionChunkedWriter() override { Abort(); }

  bool Write(std::string_view data) override {
    if (finished_ || failed_) return false;
    if (data.empty()) return true;  // an empty chunk would end the body
    if (!session_->WriteChunk(data, /*last=*/false)) {
      failed_ = true;
      return false;
    }
    bytes_ += data.size();
    return true;
  }

  bool Finish() override {
    if (finished_) return !failed_;
    finished_ = true;
    if (failed_ || !session_->WriteChunk({}, /*last=*/true)) {
      failed_ = true;
      session_->AbortStream();
      return false;
    }
    return true;
  }

  void Abort() override {
    if (finished_) return;
    finished_ = true;
    failed_ = true;
    session_->AbortStream();
  }

  uint64_t bytes_written() const override { return bytes_; }

 private:
  std::shared_ptr<Session> session_;
  bool finished_ = false;
  bool failed_ = false;
  uint64_t bytes_ = 0;
};

std::unique_ptr<ChunkedWriter> Session::BeginStream(HttpResponse head) {
  auto self = shared_from_this();
  auto shared_head = std::make_shared<HttpResponse>(std::move(head));
  bool written = WaitOnStrand([self, shared_head](auto done) {
    self->WriteStreamHead(std::move(*shared_head), std::move(done));
  });
  if (!written) {
    AbortStream();
    return nullptr;
  }
  return std::make_unique<SessionChunkedWriter>(std::move(self));
}

}  // namespace

void HttpsServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(io),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          self->OnAccept(ec, std::move(socket));
                        });
}

void HttpsServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (draining.load() || !acceptor.is_open()) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    Rejected("accept_error")->Increment();
    spdlog::warn("listener={} accept failed: {}; retrying in 100 ms", options.name, ec.message());
    // Out of file descriptors and the like: back off instead of spinning.
    retry_timer.expires_after(std::chrono::milliseconds(100));
    retry_timer.async_wait([self = shared_from_this()](beast::error_code wec) {
      if (!wec) self->Accept();
    });
    return;
  }
  if (connections.load() >= static_cast<size_t>(options.max_connections)) {
    Rejected("max_connections")->Increment();
    spdlog::debug("listener={} refusing a connection: {} open, the limit", options.name,
                  connections.load());
    beast::error_code ignored;
    socket.close(ignored);
  } else {
    socket.set_option(tcp::no_delay(true), ec);
    connections.fetch_add(1);
    connections_gauge->Add(1);
    accepted->Increment();
    auto session = std::make_shared<Session>(shared_from_this(), std::move(socket), CurrentTls(),
                                             next_id.fetch_add(1));
    Register(session);
    session->Run();
  }
  Accept();
}

void HttpsServer::Impl::Register(const std::shared_ptr<Session>& s) {
  std::lock_guard lock(mu);
  sessions[s->id()] = s;
}

void HttpsServer::Impl::Unregister(uint64_t id) {
  std::lock_guard lock(mu);
  sessions.erase(id);
}

HttpsServer::HttpsServer(asio::io_context& io, ListenerOptions options,
                         std::shared_ptr<ssl::context> tls, std::shared_ptr<const Router> router,
                         MetricsRegistry* metrics)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(tls), std::move(router),
                                   metrics)) {}

HttpsServer::~HttpsServer() {
  // The acceptor belongs to its strand: close it there, as Drain does.
  Drain();
}

Status HttpsServer::Start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.address, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + impl_->options.address);
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acceptor = impl_->acceptor;
  std::string where = impl_->options.address + ":" + std::to_string(impl_->options.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (ec) {
    return Status::Unavailable("listener " + impl_->options.name + " cannot bind " + where + ": " +
                               ec.message());
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::Unavailable("listener " + impl_->options.name +
                               " cannot listen: " + ec.message());
  impl_->port = acceptor.local_endpoint().port();
  asio::dispatch(acceptor.get_executor(), [impl = impl_] { impl->Accept(); });
  return Status::Ok();
}

uint16_t HttpsServer::bound_port() const { return impl_->port; }
const ListenerOptions& HttpsServer::options() const { return impl_->options; }

void HttpsServer::ReplaceTlsContext(std::shared_ptr<ssl::context> tls) {
  std::lock_guard lock(impl_->mu);
  impl_->tls = std::move(tls);
}

void HttpsServer::Drain() {
  impl_->draining.store(true);
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->retry_timer.cancel();
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, weak] : impl_->sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->OnDrain();
}

size_t HttpsServer::open_connections() const { return impl_->connections.load(); }
size_t HttpsServer::requests_in_flight() const { return impl_->in_flight.load(); }

}  // namespace facegate::net
