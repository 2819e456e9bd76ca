#include "ship-sim/sim_server.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <functional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "facegate/net/tls.h"
#include "facegate/ship/transport.h"

namespace facegate::shipsim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using nlohmann::json;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kBodyTimeout = std::chrono::seconds(30);
constexpr auto kWriteTimeout = std::chrono::seconds(60);
constexpr auto kShutdownTimeout = std::chrono::seconds(2);
constexpr auto kDrainTime = std::chrono::seconds(5);
constexpr size_t kDrainBytes = 64u << 20;
constexpr auto kRelistenRetry = std::chrono::milliseconds(200);
constexpr size_t kHeaderLimit = 64 * 1024;
constexpr std::string_view kControlPrefix = "/_sim";
constexpr std::string_view kRealm = "realm=\"Salto SHIP (ship-sim)\"";

long Ms(SteadyClock::time_point since) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - since).count());
}

bool ClosedByPeer(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout;
}

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Compares secrets without leaking, through timing, how much of a guess was right.
bool SameSecret(std::string_view given, std::string_view expected) {
  return given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

std::string MediaType(std::string_view content_type) {
  std::string type(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type;
}

std::string PercentDecoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

HttpResponse TextResponse(http::status status, std::string text) {
  HttpResponse res{status, 11};
  res.set(http::field::server, "facegate-ship-sim");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(text) + "\n";
  return res;
}

HttpResponse JsonResponse(http::status status, const json& body) {
  HttpResponse res{status, 11};
  res.set(http::field::server, "facegate-ship-sim");
  res.set(http::field::content_type, "application/json");
  res.body() = body.dump() + "\n";
  return res;
}

HttpResponse JsonError(http::status status, const std::string& message) {
  return JsonResponse(status, {{"error", message}});
}

// A connection the server can cut (a `down` fault, Stop).
class Closable {
 public:
  virtual ~Closable() = default;
  virtual void CloseNow() = 0;
};

}  // namespace

// ---------------------------------------------------------------- STP framing

StpFrame ParseStpFrame(std::string_view buffer, size_t max_length) {
  StpFrame f;
  auto bad = [&](std::string problem) {
    f.state = StpFrame::State::kBad;
    f.problem = std::move(problem);
    return f;
  };
  constexpr std::string_view kMagic = "STP/";
  const size_t head = std::min(buffer.size(), kMagic.size());
  if (buffer.substr(0, head) != kMagic.substr(0, head)) return bad("does not start with STP/");
  for (size_t i = 4; i < std::min<size_t>(buffer.size(), 6); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(buffer[i]))) {
      return bad("the version is not two digits");
    }
  }
  if (buffer.size() > 6 && buffer[6] != '/') return bad("the version is not two digits");
  // "STP/NN/" then at most 10 digits and '/': a header that runs on is not STP.
  constexpr size_t kLongestHeader = 18;
  const size_t slash = buffer.size() > 7 ? buffer.find('/', 7) : std::string_view::npos;
  if (slash == std::string_view::npos) {
    const std::string_view digits = buffer.size() > 7 ? buffer.substr(7) : std::string_view();
    if (digits.find_first_not_of("0123456789") != std::string_view::npos || digits.size() > 10) {
      return bad("the length is not a number of at most 10 digits");
    }
    if (buffer.size() > kLongestHeader) return bad("the header has no end within 18 bytes");
    return f;
  }
  const std::string_view digits = buffer.substr(7, slash - 7);
  if (digits.empty() || digits.size() > 10 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return bad("the length is not a number");
  }
  const size_t length = std::stoull(std::string(digits));
  if (length > max_length) {
    return bad("announces " + std::to_string(length) + " bytes, more than " +
               std::to_string(max_length));
  }
  f.version = std::string(buffer.substr(4, 2));
  f.body_at = slash + 1;
  f.length = length;
  f.state = buffer.size() >= f.body_at + length ? StpFrame::State::kComplete
                                                : StpFrame::State::kIncomplete;
  return f;
}

// ---------------------------------------------------------------- the server

struct SimServer::Impl {
  Impl(SimState& sim_state, SimServerOptions server_options)
      : state(sim_state), options(std::move(server_options)), api_key(options.api_key) {
    if (options.auth == SimServerOptions::Auth::kBasic) {
      expected_basic = "Basic " + Base64(options.basic_user + ":" + options.basic_password);
    }
  }

  SimState& state;
  const SimServerOptions options;
  // Declared before the io_context: the TLS streams its handlers own must go first.
  std::shared_ptr<ssl::context> tls;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  tcp::acceptor https_acceptor{ioc};
  tcp::acceptor stp_acceptor{ioc};
  tcp::endpoint https_endpoint, stp_endpoint;
  asio::steady_timer down_timer{ioc};
  std::vector<std::weak_ptr<Closable>> connections;
  bool down = false;
  bool stopping = false;
  std::string api_key;  // changed by POST /_sim/key
  std::string expected_basic;
  std::thread thread;

  Status Listen(tcp::acceptor& acceptor, tcp::endpoint* endpoint, std::string_view what) {
    beast::error_code ec;
    acceptor.open(endpoint->protocol(), ec);
    // SO_REUSEADDR: after a `down` fault the same port is bound again while the closed
    // connections are still in TIME_WAIT.
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(*endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      beast::error_code ignored;
      acceptor.close(ignored);
      return Status::Unavailable("cannot listen for " + std::string(what) + " on " +
                                 endpoint->address().to_string() + ":" +
                                 std::to_string(endpoint->port()) + ": " + ec.message());
    }
    *endpoint = acceptor.local_endpoint();
    return Status::Ok();
  }

  void Track(const std::shared_ptr<Closable>& connection) {
    std::erase_if(connections, [](const std::weak_ptr<Closable>& c) { return c.expired(); });
    connections.push_back(connection);
  }

  void CloseEverything() {
    beast::error_code ignored;
    https_acceptor.close(ignored);
    stp_acceptor.close(ignored);
    for (auto& weak : connections) {
      if (auto c = weak.lock()) c->CloseNow();
    }
    connections.clear();
  }

  void Accept(tcp::acceptor& acceptor, bool stp);

  bool Authorized(const HttpRequest& req) const {
    if (options.auth == SimServerOptions::Auth::kBasic) {
      return SameSecret(req[http::field::authorization], expected_basic);
    }
    const std::string_view key = req["Salto-SHIP-Key"];
    if (key.empty()) return false;
    return api_key.empty() || SameSecret(key, api_key);
  }

  HttpResponse Unauthorized() const {
    HttpResponse res =
        TextResponse(http::status::unauthorized, options.auth == SimServerOptions::Auth::kBasic
                                                     ? "wrong or missing user and password"
                                                     : "wrong or missing Salto-SHIP-Key");
    res.set(
        http::field::www_authenticate,
        std::string(options.auth == SimServerOptions::Auth::kBasic ? "Basic " : "Salto-SHIP-Key ") +
            std::string(kRealm));
    return res;
  }

  void GoDown(std::chrono::seconds seconds) {
    if (stopping) return;
    down = true;
    CloseEverything();
    spdlog::warn("fault down: listeners and connections closed for {}s", seconds.count());
    down_timer.expires_after(seconds);
    down_timer.async_wait([this](beast::error_code ec) {
      if (!ec) ComeBack();
    });
  }

  void ComeBack() {
    if (stopping) return;
    Status https =
        https_acceptor.is_open() ? Status::Ok() : Listen(https_acceptor, &https_endpoint, "HTTPS");
    Status stp = !options.stp || stp_acceptor.is_open()
                     ? Status::Ok()
                     : Listen(stp_acceptor, &stp_endpoint, "STP");
    if (!https.ok() || !stp.ok()) {
      // Another process may hold the port for a moment; the tests wait for the same port.
      spdlog::warn("fault down: cannot listen again yet ({}); retrying",
                   (!https.ok() ? https : stp).message());
      down_timer.expires_after(kRelistenRetry);
      down_timer.async_wait([this](beast::error_code ec) {
        if (!ec) ComeBack();
      });
      return;
    }
    down = false;
    if (state.fault().mode == FaultMode::kDown) state.SetFault(Fault{});
    Accept(https_acceptor, false);
    if (options.stp) Accept(stp_acceptor, true);
    spdlog::info("fault down over: listening again on HTTPS port {}{}", https_endpoint.port(),
                 options.stp ? " and STP port " + std::to_string(stp_endpoint.port()) : "");
  }

  void ApplyFaultHere(const Fault& fault) {
    state.SetFault(fault);
    spdlog::info("fault set: {}", fault.ToJson().dump());
    if (fault.mode == FaultMode::kDown) GoDown(fault.seconds);
  }

  struct ControlReply {
    HttpResponse response;
    std::function<void()> after_written;  // what to do once the answer is on its way
  };
  ControlReply Control(const HttpRequest& req, std::string_view path);
};

namespace {

// ---------------------------------------------------------------- HTTPS

class HttpsSession final : public Closable, public std::enable_shared_from_this<HttpsSession> {
 public:
  HttpsSession(SimServer::Impl& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket), *server.tls), timer_(server.ioc) {}

  void Run() {
    beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (ec) {
                                spdlog::debug("https: TLS handshake failed: {}", ec.message());
                                self->CloseNow();
                                return;
                              }
                              self->ReadHeader();
                            });
  }

  void CloseNow() override {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    beast::get_lowest_layer(stream_).close();
  }

 private:
  void ReadHeader() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(server_.options.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(server_.options.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return ReadFailed(ec);
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      // curl asks before sending a large body; waiting for its own timeout would slow tests.
      continue_ = http::response<http::empty_body>{http::status::continue_, 11};
      http::async_write(stream_, continue_,
                        [self = shared_from_this()](beast::error_code wec, size_t) {
                          if (wec) return self->CloseNow();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    beast::get_lowest_layer(stream_).expires_after(kBodyTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->ReadFailed(ec);
                       self->Dispatch(self->parser_->release());
                     });
  }

  void ReadFailed(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      drain_after_answer_ = true;
      started_ = SteadyClock::now();
      Send(TextResponse(
               http::status::payload_too_large,
               "request body over " + std::to_string(server_.options.max_body_bytes) + " bytes"),
           "https request over the body limit -> 413");
      return;
    }
    if (!ClosedByPeer(ec)) spdlog::debug("https: reading a request failed: {}", ec.message());
    CloseNow();
  }

  void Dispatch(HttpRequest req) {
    started_ = SteadyClock::now();
    keep_alive_ = req.keep_alive();
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    if (path == kControlPrefix || path.substr(0, kControlPrefix.size() + 1) == "/_sim/") {
      auto reply = server_.Control(req, path);
      const std::string line = "https control " + std::string(req.method_string()) + " " +
                               std::string(path) + " -> " +
                               std::to_string(reply.response.result_int());
      Send(std::move(reply.response), line, std::move(reply.after_written));
      return;
    }
    if (req.method() != http::verb::post) {
      HttpResponse res = TextResponse(http::status::method_not_allowed,
                                      "SHIP requests are POSTed (control endpoints: /_sim/...)");
      res.set(http::field::allow, "POST");
      Send(std::move(res), "https " + std::string(req.method_string()) + " -> 405");
      return;
    }
    if (MediaType(req[http::field::content_type]) != ship::kShipMediaType) {
      Send(TextResponse(http::status::unsupported_media_type,
                        "expected Content-Type: " + std::string(ship::kShipMediaType) + ", got '" +
                            std::string(req[http::field::content_type]) + "'"),
           "https wrong content type -> 415");
      return;
    }
    if (!server_.Authorized(req)) {
      server_.state.CountUnauthorized();
      Send(server_.Unauthorized(), "https not authenticated -> 401");
      return;
    }
    Act(server_.state.Serve(req.body(), "https"));
  }

  void Act(Served served) {
    const std::string line = "https " + served.request_name + " " + served.result;
    switch (served.action) {
      case Served::Action::kUnauthorized:
        server_.state.CountUnauthorized();
        Send(server_.Unauthorized(), line + " -> 401");
        return;
      case Served::Action::kHang:
        spdlog::info("{} (holding the connection, no answer)", line);
        Hold();
        return;
      case Served::Action::kDrop:
        spdlog::info("{} (connection closed, no answer)", line);
        CloseNow();
        return;
      case Served::Action::kAnswer:
        break;
    }
    HttpResponse res{http::status::ok, 11};
    res.set(http::field::server, "facegate-ship-sim");
    res.set(http::field::content_type, served.html ? std::string("text/html; charset=utf-8")
                                                   : std::string(ship::kShipMediaType));
    res.body() = std::move(served.body);
    if (served.delay.count() == 0) {
      Send(std::move(res), line);
      return;
    }
    beast::get_lowest_layer(stream_).expires_never();
    timer_.expires_after(served.delay);
    timer_.async_wait(
        [self = shared_from_this(), res = std::move(res), line](beast::error_code ec) mutable {
          if (ec || self->closed_) return;
          self->Send(std::move(res), line);
        });
  }

  // Never answers: reads and drops whatever comes, until the client gives up or the hold ends.
  void Hold() {
    beast::get_lowest_layer(stream_).expires_never();
    timer_.expires_after(server_.options.hang_hold);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->CloseNow();
    });
    Discard();
  }

  void Discard() {
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->discarded_ += n;
                              if (ec || self->discarded_ > kDrainBytes) return self->CloseNow();
                              self->Discard();
                            });
  }

  // After a 413 the client may still be sending the body; closing now would reset the
  // connection before it reads the answer. So the rest is read and dropped, for a while.
  void DrainThenClose() {
    beast::get_lowest_layer(stream_).expires_never();
    timer_.expires_after(kDrainTime);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->CloseNow();
    });
    Discard();
  }

  void Send(HttpResponse res, std::string line, std::function<void()> after_written = nullptr) {
    if (closed_) return;
    response_ = std::move(res);
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(kWriteTimeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this(), line = std::move(line),
                       after = std::move(after_written)](beast::error_code ec, size_t) {
                        spdlog::info("{} {}ms{}", line, Ms(self->started_),
                                     ec ? " (not delivered: " + ec.message() + ")" : "");
                        if (after) after();
                        if (ec || self->closed_) return self->CloseNow();
                        if (self->drain_after_answer_) return self->DrainThenClose();
                        if (!self->keep_alive_) return self->Shutdown();
                        self->ReadHeader();
                      });
  }

  void Shutdown() {
    beast::get_lowest_layer(stream_).expires_after(kShutdownTimeout);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->CloseNow(); });
  }

  SimServer::Impl& server_;
  TlsStream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  HttpResponse response_;
  asio::steady_timer timer_;
  std::array<char, 4096> discard_{};
  size_t discarded_ = 0;
  bool keep_alive_ = true;
  bool drain_after_answer_ = false;
  bool closed_ = false;
  SteadyClock::time_point started_;
};

// ---------------------------------------------------------------- STP

template <class Stream>
class StpSession final : public Closable, public std::enable_shared_from_this<StpSession<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  StpSession(SimServer::Impl& server, tcp::socket socket)
      : server_(server), stream_(MakeStream(server, std::move(socket))), timer_(server.ioc) {}

  void Run() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) {
                                  spdlog::debug("stp: TLS handshake failed: {}", ec.message());
                                  return self->CloseNow();
                                }
                                self->Process();
                              });
    } else {
      Process();
    }
  }

  void CloseNow() override {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    beast::get_lowest_layer(stream_).close();
  }

 private:
  static Stream MakeStream(SimServer::Impl& server, tcp::socket socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  void ReadMore() {
    beast::get_lowest_layer(stream_).expires_after(in_.empty() ? server_.options.idle_timeout
                                                               : kBodyTimeout);
    stream_.async_read_some(asio::buffer(chunk_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) {
                                if (!ClosedByPeer(ec) || !self->in_.empty()) {
                                  spdlog::debug(
                                      "stp: connection ended ({}) with {} bytes of an "
                                      "unfinished frame",
                                      ec.message(), self->in_.size());
                                }
                                return self->CloseNow();
                              }
                              self->in_.append(self->chunk_.data(), n);
                              self->Process();
                            });
  }

  // Answers every complete frame in the buffer, one at a time, then reads on.
  void Process() {
    if (closed_) return;
    const StpFrame frame = ParseStpFrame(in_, server_.options.max_body_bytes);
    if (frame.state == StpFrame::State::kIncomplete) return ReadMore();
    if (frame.state == StpFrame::State::kBad) {
      spdlog::warn("stp: bad frame ({}); closing the connection", frame.problem);
      return CloseNow();
    }
    started_ = SteadyClock::now();
    version_ = frame.version;
    const std::string xml = in_.substr(frame.body_at, frame.length);
    in_.erase(0, frame.body_at + frame.length);
    Act(server_.state.Serve(xml, "stp"));
  }

  void Act(Served served) {
    const std::string line = "stp " + served.request_name + " " + served.result;
    switch (served.action) {
      case Served::Action::kUnauthorized: {
        // STP carries no credentials, so refusing it is a SHIP Exception (docs/ship-sim.md).
        server_.state.CountUnauthorized();
        ship::RequestResponse refusal;
        refusal.name = served.request_name;
        refusal.exception = ship::ShipException{401, "Unauthorized"};
        Reply(ship::Encode(refusal), line);
        return;
      }
      case Served::Action::kHang:
        spdlog::info("{} (holding the connection, no answer)", line);
        return Hold();
      case Served::Action::kDrop:
        spdlog::info("{} (connection closed, no answer)", line);
        return CloseNow();
      case Served::Action::kAnswer:
        break;
    }
    if (served.delay.count() == 0) return Reply(std::move(served.body), line);
    beast::get_lowest_layer(stream_).expires_never();
    timer_.expires_after(served.delay);
    timer_.async_wait([self = this->shared_from_this(), body = std::move(served.body),
                       line](beast::error_code ec) mutable {
      if (ec || self->closed_) return;
      self->Reply(std::move(body), line);
    });
  }

  void Reply(std::string body, std::string line) {
    if (closed_) return;
    out_ = "STP/" + version_ + "/" + std::to_string(body.size()) + "/" + body;
    beast::get_lowest_layer(stream_).expires_after(kWriteTimeout);
    asio::async_write(
        stream_, asio::buffer(out_),
        [self = this->shared_from_this(), line = std::move(line)](beast::error_code ec, size_t) {
          spdlog::info("{} {}ms{}", line, Ms(self->started_),
                       ec ? " (not delivered: " + ec.message() + ")" : "");
          if (ec) return self->CloseNow();
          self->Process();
        });
  }

  void Hold() {
    beast::get_lowest_layer(stream_).expires_never();
    timer_.expires_after(server_.options.hang_hold);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->CloseNow();
    });
    Discard();
  }

  void Discard() {
    stream_.async_read_some(asio::buffer(chunk_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->CloseNow();
                              self->Discard();
                            });
  }

  SimServer::Impl& server_;
  Stream stream_;
  asio::steady_timer timer_;
  std::array<char, 16384> chunk_{};
  std::string in_;
  std::string out_;
  std::string version_ = "00";
  bool closed_ = false;
  SteadyClock::time_point started_;
};

}  // namespace

void SimServer::Impl::Accept(tcp::acceptor& acceptor, bool stp) {
  acceptor.async_accept(ioc, [this, &acceptor, stp](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      spdlog::warn("{}: accept failed: {}", stp ? "stp" : "https", ec.message());
    } else if (down || stopping) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::shared_ptr<Closable> connection;
      if (!stp) {
        auto s = std::make_shared<HttpsSession>(*this, std::move(socket));
        s->Run();
        connection = s;
      } else if (options.stp_plain) {
        auto s = std::make_shared<StpSession<beast::tcp_stream>>(*this, std::move(socket));
        s->Run();
        connection = s;
      } else {
        auto s = std::make_shared<StpSession<TlsStream>>(*this, std::move(socket));
        s->Run();
        connection = s;
      }
      Track(connection);
    }
    Accept(acceptor, stp);
  });
}

// ---------------------------------------------------------------- control endpoints

SimServer::Impl::ControlReply SimServer::Impl::Control(const HttpRequest& req,
                                                       std::string_view path) {
  const http::verb method = req.method();
  auto body = [&]() -> Result<json> {
    json parsed = json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return Status::InvalidArgument("the body is not JSON");
    return parsed;
  };
  auto not_allowed = [&](std::string_view allowed) {
    HttpResponse res = JsonError(http::status::method_not_allowed,
                                 std::string(path) + " takes " + std::string(allowed));
    res.set(http::field::allow, allowed);
    return ControlReply{std::move(res), nullptr};
  };
  auto bad = [](const Status& s) {
    return ControlReply{JsonError(http::status::bad_request, s.message()), nullptr};
  };

  if (path == "/_sim/fault") {
    if (method == http::verb::get) {
      return {JsonResponse(http::status::ok, {{"fault", state.fault().ToJson()}}), nullptr};
    }
    if (method != http::verb::post) return not_allowed("GET, POST");
    auto j = body();
    if (!j.ok()) return bad(j.status());
    auto fault = FaultFromJson(*j);
    if (!fault.ok()) return bad(fault.status());
    HttpResponse res = JsonResponse(http::status::ok, {{"fault", fault->ToJson()}});
    if (fault->mode == FaultMode::kDown) {
      // Down after the answer is written, so the test knows its request was taken.
      state.SetFault(*fault);
      return {std::move(res), [this, f = *fault] { ApplyFaultHere(f); }};
    }
    ApplyFaultHere(*fault);
    return {std::move(res), nullptr};
  }
  if (path == "/_sim/openings") {
    if (method == http::verb::get)
      return {JsonResponse(http::status::ok, state.OpeningsJson()), nullptr};
    if (method != http::verb::delete_) return not_allowed("GET, DELETE");
    state.ClearOpenings();
    return {JsonResponse(http::status::ok, state.OpeningsJson()), nullptr};
  }
  if (path == "/_sim/stats") {
    if (method != http::verb::get) return not_allowed("GET");
    return {JsonResponse(http::status::ok, state.StatsJson()), nullptr};
  }
  if (path == "/_sim/key") {
    if (method != http::verb::post) return not_allowed("POST");
    auto j = body();
    if (!j.ok()) return bad(j.status());
    auto key = j->find("api_key");
    if (!j->is_object() || key == j->end() || !key->is_string() || j->size() != 1) {
      return bad(Status::InvalidArgument("expected {\"api_key\":\"...\"}"));
    }
    api_key = key->get<std::string>();
    spdlog::info("control: the expected SHIP key was changed");  // never the key itself
    return {JsonResponse(http::status::ok, {{"ok", true}}), nullptr};
  }
  if (path == "/_sim/users/generate") {
    if (method != http::verb::post) return not_allowed("POST");
    auto j = body();
    if (!j.ok()) return bad(j.status());
    auto spec = UserGenerateSpecFromJson(*j);
    if (!spec.ok()) return bad(spec.status());
    state.GenerateUsers(*spec);
    return {
        JsonResponse(http::status::ok, {{"generated", spec->count}, {"users", state.user_count()}}),
        nullptr};
  }
  constexpr std::string_view kUsers = "/_sim/users/";
  if (path.substr(0, kUsers.size()) == kUsers && path.size() > kUsers.size()) {
    const std::string id = PercentDecoded(path.substr(kUsers.size()));
    if (method == http::verb::delete_) {
      if (!state.DeleteUser(id)) {
        return {JsonError(http::status::not_found, "no user '" + id + "'"), nullptr};
      }
      return {JsonResponse(http::status::ok, {{"deleted", id}, {"users", state.user_count()}}),
              nullptr};
    }
    if (method != http::verb::put) return not_allowed("PUT, DELETE");
    auto j = body();
    if (!j.ok()) return bad(j.status());
    if (j->is_object() && !j->contains("ext_user_id")) (*j)["ext_user_id"] = id;
    auto user = UserFromJson(*j, "user");
    if (!user.ok()) return bad(user.status());
    if (user->ext_user_id != id) {
      return bad(Status::InvalidArgument("user.ext_user_id '" + user->ext_user_id +
                                         "' differs from the path's '" + id + "'"));
    }
    state.PutUser(std::move(user).value());
    return {JsonResponse(http::status::ok, {{"user", id}, {"users", state.user_count()}}), nullptr};
  }
  return {JsonError(http::status::not_found,
                    "no control endpoint " + std::string(path) +
                        " (known: /_sim/fault, /_sim/openings, /_sim/stats, /_sim/key, "
                        "/_sim/users/{id}, /_sim/users/generate)"),
          nullptr};
}

// ---------------------------------------------------------------- SimServer

SimServer::SimServer(SimState& state, SimServerOptions options)
    : impl_(std::make_unique<Impl>(state, std::move(options))) {}

SimServer::~SimServer() { Stop(); }

Status SimServer::Start() {
  Impl& s = *impl_;
  auto tls = net::MakeServerTlsContext({s.options.certificate_pem, s.options.private_key_pem,
                                        net::ClientCertificateMode::kNone, "", false});
  if (!tls.ok()) return tls.status().WithContext("the simulator's certificate");
  s.tls = *tls;
  beast::error_code ec;
  const auto address = asio::ip::make_address(s.options.address, ec);
  if (ec) {
    return Status::InvalidArgument("address: '" + s.options.address + "' is not an IP address");
  }
  s.https_endpoint = tcp::endpoint(address, s.options.https_port);
  FACEGATE_RETURN_IF_ERROR(s.Listen(s.https_acceptor, &s.https_endpoint, "HTTPS"));
  if (s.options.stp) {
    s.stp_endpoint = tcp::endpoint(address, s.options.stp_port);
    Status stp = s.Listen(s.stp_acceptor, &s.stp_endpoint, "STP");
    if (!stp.ok()) {
      s.https_acceptor.close(ec);
      return stp;
    }
  }
  s.Accept(s.https_acceptor, false);
  if (s.options.stp) s.Accept(s.stp_acceptor, true);
  s.thread = std::thread([&s] { s.ioc.run(); });
  return Status::Ok();
}

uint16_t SimServer::https_port() const { return impl_->https_endpoint.port(); }

std::optional<uint16_t> SimServer::stp_port() const {
  if (!impl_->options.stp) return std::nullopt;
  return impl_->stp_endpoint.port();
}

void SimServer::ApplyFault(Fault fault) {
  asio::post(impl_->ioc, [s = impl_.get(), f = std::move(fault)] { s->ApplyFaultHere(f); });
}

void SimServer::Stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  asio::post(s.ioc, [&s] {
    s.stopping = true;
    s.down_timer.cancel();
    s.CloseEverything();
    s.work.reset();
    s.ioc.stop();
  });
  s.thread.join();
}

}  // namespace facegate::shipsim
