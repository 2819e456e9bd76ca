#include "facegate/net/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "net/test_server.h"
#include "testing/tls_client.h"

namespace facegate::net {
namespace {

using facegate::testing::HttpReply;
using facegate::testing::TlsClient;
using facegate::testing::TlsClientOptions;
using std::chrono::milliseconds;
using test::TestCa;
using test::TestServer;
using ::testing::HasSubstr;

constexpr char kRequests[] = "facegate_http_requests_total";
constexpr char kRequestErrors[] = "facegate_http_request_errors_total";
constexpr char kRejected[] = "facegate_http_connections_rejected_total";
constexpr char kAccepted[] = "facegate_http_connections_accepted_total";
constexpr char kHandshakeFailures[] = "facegate_tls_handshake_failures_total";
// Generous: only a server that never closes should miss it. Timing belongs in benchmarks.
constexpr milliseconds kCloseBound{5000};

std::string RequestsLabels(const std::string& route, int code) {
  return "listener=\"device\",route=\"" + route + "\",code=\"" + std::to_string(code) + "\"";
}
std::string ReasonLabels(const std::string& reason) {
  return "listener=\"device\",reason=\"" + reason + "\"";
}

// The status of a reply, or -1 when there was none.
int Code(const Result<HttpReply>& reply) { return reply.ok() ? reply->status : -1; }

// Whether the peer of `fd` closed (EOF or reset) within `timeout`.
bool PlainSocketClosed(int fd, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) == 0) return false;
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ca_.ok());
    server_pair_ = ca_.IssueServer();
    ASSERT_FALSE(server_pair_.certificate_pem.empty());
  }

  void StartServer(const std::function<void(ListenerOptions&)>& tweak = {}) {
    ListenerOptions options = test::TestListenerOptions();
    if (tweak) tweak(options);
    auto ctx = test::MakeContextOrFail(test::ServerConfig(server_pair_));
    ASSERT_TRUE(ctx);
    server_ = std::make_unique<TestServer>(options, std::move(ctx));
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    ASSERT_NE(server_->port(), 0);
  }

  TlsClientOptions Verified() const {
    TlsClientOptions o;
    o.ca_pem = ca_.pem();
    return o;
  }

  // A connected client; fails the test (and returns null) when the handshake fails.
  std::unique_ptr<TlsClient> Connect() {
    auto client = server_->Connect(Verified());
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // One request on a new connection.
  HttpReply Fetch(const std::string& method, const std::string& target,
                  const std::string& body = "",
                  const std::map<std::string, std::string>& headers = {}) {
    auto client = Connect();
    if (!client) return {};
    auto reply = client->Request(method, target, body, headers);
    EXPECT_TRUE(reply.ok()) << method << " " << target << ": " << reply.status().ToString();
    return reply.ok() ? *reply : HttpReply{};
  }

  double Metric(const std::string& name, const std::string& labels) const {
    return server_->Metric(name, labels);
  }

  TestCa ca_;
  CertificateAndKey server_pair_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(HttpServerTest, RoutesAnswer) {
  StartServer();
  HttpReply hello = Fetch("GET", "/hello");
  EXPECT_EQ(hello.status, 200);
  EXPECT_EQ(hello.body, "hi");
  EXPECT_EQ(hello.headers["server"], "facegate");

  HttpReply health = Fetch("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.headers["content-type"], "application/json");
  EXPECT_EQ(health.headers["cache-control"], "no-store");
  EXPECT_EQ(nlohmann::json::parse(health.body, nullptr, false)["status"], "ok") << health.body;

  HttpReply echo = Fetch("POST", "/echo", "ping\r\npong");
  EXPECT_EQ(echo.status, 200);
  EXPECT_EQ(echo.body, "ping\r\npong");

  HttpReply with_query = Fetch("GET", "/hello?x=1");
  EXPECT_EQ(with_query.status, 200);
  EXPECT_EQ(with_query.body, "hi");
}

TEST_F(HttpServerTest, UnknownPathIs404Json) {
  StartServer();
  HttpReply reply = Fetch("GET", "/no/such/thing");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.headers["content-type"], "application/json");
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << reply.body;
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_TRUE(body["message"].is_string());
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  StartServer();
  HttpReply reply = Fetch("POST", "/hello", "x");
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.headers["allow"], "GET");
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << reply.body;
  EXPECT_EQ(body["error"], "method_not_allowed");

  HttpReply get_echo = Fetch("GET", "/echo");
  EXPECT_EQ(get_echo.status, 405);
  EXPECT_EQ(get_echo.headers["allow"], "POST");
}

TEST_F(HttpServerTest, PathParametersReachTheHandler) {
  StartServer();
  HttpReply reply = Fetch("GET", "/items/42");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "item 42");  // the route's name, then the parameter

  HttpReply other = Fetch("GET", "/items/abc-7?verbose=1");
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.body, "item abc-7");

  EXPECT_EQ(Fetch("GET", "/items/").status, 404);  // an empty segment is no parameter
  EXPECT_EQ(Fetch("GET", "/items/1/2").status, 404);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  auto client = Connect();
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    auto reply = client->Request("POST", "/echo", "n" + std::to_string(i));
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, "n" + std::to_string(i));
    EXPECT_TRUE(reply->keep_alive);
  }
  EXPECT_EQ(Metric(kAccepted, "listener=\"device\""), 1);
  EXPECT_EQ(server_->server().open_connections(), 1u);
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  auto client = Connect();
  ASSERT_TRUE(client);
  auto reply = client->Request("GET", "/hello", "", {{"Connection", "close"}});
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200);
  EXPECT_FALSE(reply->keep_alive);
  EXPECT_TRUE(client->WaitForClose(kCloseBound));

  // HTTP/1.0 closes unless asked otherwise.
  auto old = Connect();
  ASSERT_TRUE(old);
  ASSERT_TRUE(old->Write("GET /hello HTTP/1.0\r\n\r\n").ok());
  auto old_reply = old->ReadResponse();
  ASSERT_TRUE(old_reply.ok()) << old_reply.status().ToString();
  EXPECT_EQ(old_reply->status, 200);
  EXPECT_EQ(old_reply->body, "hi");
  EXPECT_FALSE(old_reply->keep_alive);
  EXPECT_TRUE(old->WaitForClose(kCloseBound));
}

TEST_F(HttpServerTest, OversizedHeaderIs431AndServerGoesOn) {
  StartServer();  // max_header_bytes 4096
  auto client = Connect();
  ASSERT_TRUE(client);
  auto reply = client->Request("GET", "/hello", "", {{"X-Padding", std::string(8000, 'a')}});
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 431);
  EXPECT_FALSE(reply->keep_alive);
  EXPECT_THAT(reply->body, HasSubstr("header_too_large"));
  EXPECT_TRUE(client->WaitForClose(kCloseBound));
  EXPECT_EQ(Metric(kRequestErrors, ReasonLabels("header_too_large")), 1);
  EXPECT_EQ(Metric(kRequests, RequestsLabels("rejected", 431)), 1);
  EXPECT_EQ(server_->server().requests_in_flight(), 0u);

  HttpReply next = Fetch("GET", "/hello");
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "hi");
}

TEST_F(HttpServerTest, OversizedBodyIs413AndServerGoesOn) {
  StartServer();  // max_body_bytes 1024
  auto client = Connect();
  ASSERT_TRUE(client);
  auto reply = client->Request("POST", "/echo", std::string(4000, 'b'));
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 413);
  EXPECT_FALSE(reply->keep_alive);
  EXPECT_THAT(reply->body, HasSubstr("body_too_large"));
  EXPECT_EQ(Metric(kRequestErrors, ReasonLabels("body_too_large")), 1);

  // A chunked body has no Content-Length: the limit is hit while reading the body.
  auto chunked = Connect();
  ASSERT_TRUE(chunked);
  ASSERT_TRUE(
      chunked
          ->Write("POST /echo HTTP/1.1\r\nHost: facegate\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "7d0\r\n" +
                  std::string(2000, 'd') + "\r\n0\r\n\r\n")
          .ok());
  auto chunked_reply = chunked->ReadResponse();
  ASSERT_TRUE(chunked_reply.ok()) << chunked_reply.status().ToString();
  EXPECT_EQ(chunked_reply->status, 413);
  EXPECT_EQ(Metric(kRequestErrors, ReasonLabels("body_too_large")), 2);

  // A body at the limit is fine.
  HttpReply at_limit = Fetch("POST", "/echo", std::string(1024, 'c'));
  EXPECT_EQ(at_limit.status, 200);
  EXPECT_EQ(at_limit.body.size(), 1024u);
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  StartServer();
  auto client = Connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->Write("GARBAGE\r\n\r\n").ok());
  auto reply = client->ReadResponse();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 400);
  EXPECT_THAT(reply->body, HasSubstr("bad_request"));
  EXPECT_TRUE(client->WaitForClose(kCloseBound));
  EXPECT_EQ(Metric(kRequestErrors, ReasonLabels("bad_request")), 1);
  EXPECT_EQ(server_->server().requests_in_flight(), 0u);
}

TEST_F(HttpServerTest, SilentClientIsClosedAfterRequestTimeout) {
  StartServer();  // request_timeout_ms 400
  auto client = Connect();
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->WaitForClose(kCloseBound));
  EXPECT_TRUE(test::Eventually([&] {
    return Metric(kRequestErrors, ReasonLabels("timeout")) == 1;
  })) << server_->metrics().RenderPrometheus();
  EXPECT_TRUE(test::Eventually([&] { return server_->server().open_connections() == 0; }));
}

// The request timeout is a deadline for the whole header, not a gap between bytes: a client
// that trickles its header is cut even though bytes keep arriving.
TEST_F(HttpServerTest, TricklingHeaderIsCutAtRequestTimeout) {
  StartServer();  // request_timeout_ms 400
  auto client = Connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->Write("GET /hello HTTP/1.1\r\nX-Slow: ").ok());
  bool closed = false;
  auto give_up = std::chrono::steady_clock::now() + kCloseBound;
  while (!closed && std::chrono::steady_clock::now() < give_up) {
    closed = !client->Write("a").ok() || client->WaitForClose(milliseconds(50));
  }
  EXPECT_TRUE(closed) << "the server kept reading a header for " << kCloseBound.count() << " ms";
  EXPECT_TRUE(
      test::Eventually([&] { return Metric(kRequestErrors, ReasonLabels("timeout")) == 1; }));
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  StartServer([](ListenerOptions& o) { o.idle_timeout_ms = 500; });
  auto client = Connect();
  ASSERT_TRUE(client);
  auto reply = client->Request("GET", "/hello");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_TRUE(reply->keep_alive);
  EXPECT_TRUE(client->WaitForClose(kCloseBound));
  EXPECT_TRUE(
      test::Eventually([&] { return Metric(kRequestErrors, ReasonLabels("timeout")) == 1; }));
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  auto client = Connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client
                  ->Write("GET /items/1 HTTP/1.1\r\nHost: facegate\r\n\r\n"
                          "POST /echo HTTP/1.1\r\nHost: facegate\r\nContent-Length: 3\r\n\r\nabc"
                          "GET /items/2 HTTP/1.1\r\nHost: facegate\r\n\r\n")
                  .ok());
  for (const char* expected : {"item 1", "abc", "item 2"}) {
    auto reply = client->ReadResponse();
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, expected);
  }
}

TEST_F(HttpServerTest, ClientThatDoesNotReadIsCutAtWriteTimeout) {
  StartServer([](ListenerOptions& o) { o.write_timeout_ms = 300; });
  auto client = Connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->Write("GET /big HTTP/1.1\r\nHost: facegate\r\n\r\n").ok());
  // The client never reads: the server must give up on the write and drop the connection.
  EXPECT_TRUE(
      test::Eventually([&] { return server_->server().open_connections() == 0; }, kCloseBound))
      << server_->server().open_connections() << " connections open";
  EXPECT_EQ(server_->server().requests_in_flight(), 0u);
}

TEST_F(HttpServerTest, StreamedBodyArrivesChunkedAndTheConnectionGoesOn) {
  StartServer();
  auto client = Connect();
  ASSERT_TRUE(client);
  auto reply = client->Request("GET", "/stream/300");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->headers["transfer-encoding"], "chunked");
  EXPECT_EQ(reply->headers.count("content-length"), 0u);
  EXPECT_EQ(std::count(reply->body.begin(), reply->body.end(), '\n'), 300);
  EXPECT_THAT(reply->body, ::testing::StartsWith("piece 0\npiece 1\n"));
  EXPECT_THAT(reply->body, ::testing::EndsWith("piece 299\n"));
  EXPECT_TRUE(test::Eventually([&] { return server_->streams_finished.load() == 1; }, kCloseBound));
  // Keep-alive: the next request on the same connection is served.
  reply = client->Request("GET", "/hello");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->body, "hi");
  EXPECT_EQ(Metric(kRequests, RequestsLabels("stream", 200)), 1);
  EXPECT_EQ(server_->server().requests_in_flight(), 0u);
}

TEST_F(HttpServerTest, AbortedStreamNeverLooksComplete) {
  StartServer();
  auto client = Connect();
  ASSERT_TRUE(client);
  auto reply = client->Request("GET", "/stream-abort");
  // The head and two pieces went out, then the connection was cut without the last chunk.
  ASSERT_FALSE(reply.ok()) << "a cut stream read as a whole answer: " << reply->body;
  EXPECT_THAT(reply.status().message(), HasSubstr("closed before a whole response"));
  EXPECT_TRUE(
      test::Eventually([&] { return server_->server().open_connections() == 0; }, kCloseBound));
}

TEST_F(HttpServerTest, ClientGoneStopsTheStreamProducer) {
  StartServer([](ListenerOptions& o) { o.write_timeout_ms = 500; });
  {
    auto client = Connect();
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->Write("GET /stream-forever HTTP/1.1\r\nHost: facegate\r\n\r\n").ok());
    // The producer is running once the head and a first piece arrived.
    auto start = client->ReadAtLeast(1024);
    ASSERT_TRUE(start.ok()) << start.status().ToString();
    EXPECT_THAT(*start, HasSubstr("Transfer-Encoding: chunked"));
  }  // the client closes without reading the rest
  EXPECT_TRUE(
      test::Eventually([&] { return server_->streams_stopped_by_client.load() == 1; }, kCloseBound))
      << "the producer kept writing to a client that is gone";
  EXPECT_TRUE(
      test::Eventually([&] { return server_->server().open_connections() == 0; }, kCloseBound));
}

TEST_F(HttpServerTest, PlainTcpClientIsCutAtHandshakeTimeout) {
  StartServer();  // handshake_timeout_ms 400
  int fd = facegate::testing::ConnectTcp("127.0.0.1", server_->port());
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(PlainSocketClosed(fd, kCloseBound));
  ::close(fd);
  EXPECT_TRUE(
      test::Eventually([&] { return Metric(kHandshakeFailures, "listener=\"device\"") == 1; }));
  EXPECT_TRUE(test::Eventually([&] { return server_->server().open_connections() == 0; }));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  StartServer([](ListenerOptions& o) { o.max_connections = 2; });
  auto first = Connect();
  auto second = Connect();
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(test::Eventually([&] { return server_->server().open_connections() == 2; }));

  auto third = server_->Connect(Verified());
  EXPECT_FALSE(third.ok()) << "a third connection completed its handshake";
  EXPECT_TRUE(test::Eventually([&] {
    return Metric(kRejected, ReasonLabels("max_connections")) == 1;
  })) << server_->metrics().RenderPrometheus();

  for (auto* client : {first.get(), second.get()}) {
    auto reply = client->Request("GET", "/hello");
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(reply->status, 200);
  }

  // A freed slot is usable again.
  first.reset();
  ASSERT_TRUE(test::Eventually([&] { return server_->server().open_connections() == 1; }));
  EXPECT_EQ(Fetch("GET", "/hello").status, 200);
}

TEST_F(HttpServerTest, DroppedResponderGives500) {
  StartServer();
  auto client = Connect();
  ASSERT_TRUE(client);
  auto reply = client->Request("GET", "/drop");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 500);
  EXPECT_THAT(reply->body, HasSubstr("internal"));
  EXPECT_EQ(Metric(kRequests, RequestsLabels("drop", 500)), 1);
  // The connection goes on.
  auto next = client->Request("GET", "/hello");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->status, 200);
}

TEST_F(HttpServerTest, ThrowingHandlerGives500) {
  StartServer();
  auto client = Connect();
  ASSERT_TRUE(client);
  auto reply = client->Request("GET", "/throw");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 500);
  EXPECT_EQ(Code(client->Request("GET", "/hello")), 200);
}

TEST_F(HttpServerTest, ExpectContinueGets100ThenTheAnswer) {
  StartServer();
  auto client = Connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client
                  ->Write("POST /echo HTTP/1.1\r\nHost: facegate\r\nExpect: 100-continue\r\n"
                          "Content-Length: 5\r\n\r\n")
                  .ok());
  auto interim = client->ReadResponse();
  ASSERT_TRUE(interim.ok()) << interim.status().ToString();
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client->Write("hello").ok());
  auto reply = client->ReadResponse();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "hello");

  // A body the server will refuse is refused at once: no 100 first.
  auto big = Connect();
  ASSERT_TRUE(big);
  ASSERT_TRUE(big->Write("POST /echo HTTP/1.1\r\nHost: facegate\r\nExpect: 100-continue\r\n"
                         "Content-Length: 5000\r\n\r\n")
                  .ok());
  auto refused = big->ReadResponse();
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->status, 413);
}

TEST_F(HttpServerTest, DrainFinishesInFlightRequestsAndRefusesNewConnections) {
  // Timeouts far beyond the test: every connection that closes is closed by Drain().
  StartServer([](ListenerOptions& o) {
    o.handshake_timeout_ms = o.request_timeout_ms = o.idle_timeout_ms = 60000;
  });
  auto idle = Connect();
  ASSERT_TRUE(idle);
  ASSERT_EQ(Code(idle->Request("GET", "/hello")), 200);  // now idle in keep-alive
  auto fresh = Connect();                                // handshake done, no request yet
  ASSERT_TRUE(fresh);
  int handshaking = facegate::testing::ConnectTcp("127.0.0.1", server_->port());
  ASSERT_GE(handshaking, 0);

  auto busy = Connect();
  ASSERT_TRUE(busy);
  ASSERT_TRUE(busy->Write("GET /slow HTTP/1.1\r\nHost: facegate\r\n\r\n").ok());
  ASSERT_TRUE(test::Eventually([&] { return server_->server().requests_in_flight() == 1; }));
  ASSERT_TRUE(test::Eventually([&] { return server_->server().open_connections() == 4; }));

  server_->server().Drain();

  auto late = server_->Connect(Verified());
  EXPECT_FALSE(late.ok()) << "a connection made after Drain() completed its handshake";

  auto reply = busy->ReadResponse();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "slow");
  EXPECT_EQ(reply->headers["connection"], "close");
  EXPECT_FALSE(reply->keep_alive);
  EXPECT_TRUE(busy->WaitForClose(kCloseBound));
  EXPECT_TRUE(idle->WaitForClose(kCloseBound));
  EXPECT_TRUE(fresh->WaitForClose(kCloseBound));
  EXPECT_TRUE(PlainSocketClosed(handshaking, kCloseBound));
  ::close(handshaking);
  // Gone clients do not hold the server's closing handshakes open.
  busy.reset();
  idle.reset();
  fresh.reset();
  EXPECT_TRUE(test::Eventually([&] { return server_->server().open_connections() == 0; }));
  EXPECT_EQ(Metric(kRequests, RequestsLabels("slow", 200)), 1);
}

TEST_F(HttpServerTest, ReplacedTlsContextServesNewConnections) {
  StartServer();
  auto before = Connect();
  ASSERT_TRUE(before);
  const std::string old_serial = test::SerialOf(server_pair_.certificate_pem);
  EXPECT_EQ(test::SerialOf(before->peer_certificate_pem()), old_serial);
  ASSERT_EQ(Code(before->Request("GET", "/hello")), 200);

  CertificateAndKey renewed = ca_.IssueServer();
  auto ctx = test::MakeContextOrFail(test::ServerConfig(renewed));
  ASSERT_TRUE(ctx);
  server_->server().ReplaceTlsContext(ctx);

  auto after = Connect();
  ASSERT_TRUE(after);
  const std::string new_serial = test::SerialOf(after->peer_certificate_pem());
  EXPECT_NE(new_serial, old_serial);
  EXPECT_EQ(new_serial, test::SerialOf(renewed.certificate_pem));
  auto reply = after->Request("GET", "/hello");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200);

  // The connection made before the switch keeps working on its old context.
  auto again = before->Request("GET", "/hello");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(test::SerialOf(before->peer_certificate_pem()), old_serial);
}

TEST_F(HttpServerTest, MetricsCountRequestsByRouteAndCode) {
  StartServer();
  auto client = Connect();
  ASSERT_TRUE(client);
  EXPECT_EQ(Code(client->Request("GET", "/hello")), 200);
  EXPECT_EQ(Code(client->Request("GET", "/hello")), 200);
  EXPECT_EQ(Code(client->Request("GET", "/items/9")), 200);
  EXPECT_EQ(Code(client->Request("GET", "/nope")), 404);
  EXPECT_EQ(Code(client->Request("DELETE", "/hello")), 405);

  const std::string text = server_->metrics().RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# TYPE facegate_http_requests_total counter"));
  EXPECT_EQ(Metric(kRequests, RequestsLabels("hello", 200)), 2) << text;
  EXPECT_EQ(Metric(kRequests, RequestsLabels("item", 200)), 1) << text;
  EXPECT_EQ(Metric(kRequests, RequestsLabels("not_found", 404)), 1) << text;
  EXPECT_EQ(Metric(kRequests, RequestsLabels("method_not_allowed", 405)), 1) << text;
  EXPECT_EQ(Metric(kRequests, RequestsLabels("hello", 404)), -1) << text;  // no such series
}

}  // namespace
}  // namespace facegate::net
