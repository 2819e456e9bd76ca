// HTTPS server after Beast's server-flex example: a listener, one session per connection on
// its own strand, timeouts on every step, header and body limits, keep-alive, a bounded
// number of connections, and a graceful drain.
//
// Requests are handed to a Router; a handler answers through a Responder, from any thread and
// at any later time (face work runs on worker pools, never on the I/O threads). A session
// reads its next request only after answering the current one.
// Thread-safety: Start/Drain/ReplaceTlsContext may be called from any thread; handlers run
// on an I/O thread and must not block.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/metrics.h"
#include "facegate/core/status.h"
#include "facegate/net/listener_options.h"

namespace facegate::net {

namespace http = boost::beast::http;

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// A client certificate that passed verification during the handshake.
struct PeerCertificate {
  std::string serial_hex;
  std::string subject;
  std::chrono::system_clock::time_point not_after;
};

struct RequestContext {
  HttpRequest message;
  std::string listener;  // ListenerOptions::name
  std::string remote_address;
  uint16_t remote_port = 0;
  std::optional<PeerCertificate> peer_certificate;
  std::chrono::steady_clock::time_point received_at;  // when the whole request was read
  std::string route;                                  // the matched route's name
  std::vector<std::string> path_params;               // values of "{...}" segments
};

// A response body sent piece by piece with chunked transfer encoding (exports that should
// not be held in memory whole). Used from ONE worker thread, never from an I/O thread: Write
// blocks until the piece is on its way to the client (back-pressure: a slow client slows the
// producer, memory stays bounded) and returns false when the client is gone or the write
// timed out; stop producing then. Finish sends the last chunk. A writer dropped or aborted
// before Finish cuts the connection without the last chunk, so a failed export never looks
// complete to the client.
class ChunkedWriter {
 public:
  virtual ~ChunkedWriter() = default;
  virtual bool Write(std::string_view data) = 0;
  virtual bool Finish() = 0;
  virtual void Abort() = 0;
  virtual uint64_t bytes_written() const = 0;
};

// Sends the answer to one request. Call it (or Stream) once, from any thread; later calls are
// ignored. If it is destroyed without being called, the client gets a 500 (a handler bug must
// not leave a terminal waiting).
class Responder {
 public:
  struct Sink {
    virtual ~Sink() = default;
    virtual void Deliver(HttpResponse response) = 0;
    // Sends `head` (its body ignored) with Transfer-Encoding: chunked; blocks until it is
    // written. Returns the writer for the body, or nullptr when the client is gone.
    virtual std::unique_ptr<ChunkedWriter> BeginStream(HttpResponse head) = 0;
  };
  explicit Responder(std::shared_ptr<Sink> sink)
      : state_(std::make_shared<State>(std::move(sink))) {}
  void operator()(HttpResponse response) const;
  // Answers with `head` and a chunked body written through the returned writer (see
  // ChunkedWriter; call from a worker thread). nullptr: already answered, or the client is
  // gone.
  std::unique_ptr<ChunkedWriter> Stream(HttpResponse head) const;
  bool answered() const { return state_->answered.load(); }

 private:
  struct State {
    explicit State(std::shared_ptr<Sink> s) : sink(std::move(s)) {}
    ~State();
    std::shared_ptr<Sink> sink;
    std::atomic<bool> answered{false};
  };
  std::shared_ptr<State> state_;
};

using Handler = std::function<void(std::shared_ptr<RequestContext>, Responder)>;

// Maps method + path to a handler. Paths are exact ("/healthz") or have "{name}" segments
// ("/api/v1/users/{id}"). Unknown paths get 404, a known path with another method 405 with
// an Allow header. Add routes before the server starts; lookups are then read-only.
class Router {
 public:
  void Add(http::verb method, std::string pattern, std::string route_name, Handler handler);
  // Finds the route; fills context->route and path_params. Returns nullptr and an error
  // response in `error` when nothing matches.
  const Handler* Match(RequestContext* context, HttpResponse* error) const;

 private:
  struct Route {
    http::verb method;
    std::vector<std::string> segments;
    std::string name;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// A JSON error body {"error": code, "message": message} with the right headers.
HttpResponse MakeJsonResponse(const HttpRequest& request, http::status status, std::string body);
HttpResponse MakeErrorResponse(const HttpRequest& request, http::status status,
                               std::string_view code, std::string_view message);

class HttpsServer {
 public:
  HttpsServer(boost::asio::io_context& io, ListenerOptions options,
              std::shared_ptr<boost::asio::ssl::context> tls, std::shared_ptr<const Router> router,
              MetricsRegistry* metrics);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Binds and starts accepting. The bound port is then known (options.port 0 picks one).
  Status Start();
  uint16_t bound_port() const;
  const ListenerOptions& options() const;

  // New connections use `tls` from now on; established ones keep theirs.
  void ReplaceTlsContext(std::shared_ptr<boost::asio::ssl::context> tls);

  // Stops accepting, closes idle connections and lets in-flight requests finish; each
  // answer then closes its connection.
  void Drain();
  size_t open_connections() const;
  size_t requests_in_flight() const;

  struct Impl;  // implementation detail, shared with the connections

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace facegate::net
