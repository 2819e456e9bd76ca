// FaultProxy between a real client socket and a real server on loopback: each fault does what
// it says (and nothing else), a mode applies to new connections, ResetAll resets the open
// ones, an unreachable target is a reset and counted.
#include "faultproxy/fault_proxy.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace facegate::faultproxy {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

int ListenLoopback(uint16_t* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::listen(fd, 16), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

// A server that answers each line it reads with `reply_size` bytes ("x" repeated), until
// the client closes. One thread per connection; stops when the test ends.
class LineServer {
 public:
  explicit LineServer(size_t reply_size) : reply_(reply_size, 'x') {
    fd_ = ListenLoopback(&port_);
    thread_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;  // closed by the destructor
        workers_.emplace_back([this, c] {
          char buf[1024];
          for (;;) {
            const ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) break;
            if (std::string(buf, static_cast<size_t>(n)).find('\n') != std::string::npos) {
              if (::write(c, reply_.data(), reply_.size()) < 0) break;
            }
          }
          ::close(c);
        });
      }
    });
  }
  ~LineServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (auto& w : workers_) w.join();
  }
  uint16_t port() const { return port_; }

 private:
  std::string reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::vector<std::thread> workers_;
};

int Connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  return fd;
}

struct ReadResult {
  std::string data;
  bool eof = false;        // orderly close
  bool reset = false;      // ECONNRESET
  bool timed_out = false;  // nothing more within the wait, connection still open
};

// Reads until `want` bytes, EOF, a reset, or `wait` without data.
ReadResult ReadFrom(int fd, size_t want, std::chrono::milliseconds wait = 5s) {
  ReadResult r;
  while (r.data.size() < want) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) {
      r.timed_out = true;
      return r;
    }
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) {
      r.eof = true;
      return r;
    }
    if (n < 0) {
      r.reset = errno == ECONNRESET;
      return r;
    }
    r.data.append(buf, static_cast<size_t>(n));
  }
  return r;
}

void Send(int fd, const std::string& s) {
  ASSERT_EQ(::write(fd, s.data(), s.size()), ssize_t(s.size()));
}

class FaultProxyTest : public ::testing::Test {
 protected:
  void StartProxy(const Fault& f, size_t reply = 100) {
    server_ = std::make_unique<LineServer>(reply);
    proxy_ = std::make_unique<FaultProxy>("127.0.0.1", server_->port());
    proxy_->SetFault(f);
    ASSERT_TRUE(proxy_->Start().ok());
  }
  std::unique_ptr<LineServer> server_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(FaultProxyTest, PassForwardsBothWays) {
  StartProxy({});
  const int fd = Connect(proxy_->port());
  Send(fd, "hello\n");
  const ReadResult r = ReadFrom(fd, 100);
  EXPECT_EQ(r.data, std::string(100, 'x'));
  Send(fd, "again\n");
  EXPECT_EQ(ReadFrom(fd, 100).data.size(), 100u);
  ::close(fd);
  EXPECT_EQ(proxy_->counts().connections, 1u);
  EXPECT_EQ(proxy_->counts().bytes_to_client, 200u);
  EXPECT_EQ(proxy_->counts().bytes_to_target, 12u);
}

TEST_F(FaultProxyTest, DelayHoldsEachChunkAtLeastTheDelay) {
  StartProxy({Mode::kDelay, 300ms, 0});
  const int fd = Connect(proxy_->port());
  const auto t0 = std::chrono::steady_clock::now();
  Send(fd, "hello\n");
  const ReadResult r = ReadFrom(fd, 100);
  // Held once on the way there and once on the way back: 600 ms at least (a lower bound
  // only; how much longer depends on the machine).
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 600ms);
  EXPECT_EQ(r.data.size(), 100u);
  ::close(fd);
}

TEST_F(FaultProxyTest, BlackholeAnswersNothingAndKeepsTheConnectionOpen) {
  StartProxy({Mode::kBlackhole, 0ms, 0});
  const int fd = Connect(proxy_->port());
  Send(fd, "hello\n");
  const ReadResult r = ReadFrom(fd, 1, 700ms);
  EXPECT_TRUE(r.timed_out) << "eof=" << r.eof << " reset=" << r.reset;
  EXPECT_TRUE(r.data.empty());
  EXPECT_EQ(proxy_->counts().bytes_to_target, 0u) << "nothing reaches the peer";
  ::close(fd);
}

TEST_F(FaultProxyTest, TruncateCutsTheAnswerThenCloses) {
  StartProxy({Mode::kTruncate, 0ms, 10}, 100);
  const int fd = Connect(proxy_->port());
  Send(fd, "hello\n");
  const ReadResult r = ReadFrom(fd, 100);
  EXPECT_EQ(r.data, std::string(10, 'x'));
  EXPECT_TRUE(r.eof || r.reset);
  ::close(fd);
}

TEST_F(FaultProxyTest, ResetResetsAtOnce) {
  StartProxy({Mode::kReset, 0ms, 0});
  const int fd = Connect(proxy_->port());
  const ReadResult r = ReadFrom(fd, 1);
  EXPECT_TRUE(r.reset) << "eof=" << r.eof << " timed_out=" << r.timed_out;
  ::close(fd);
}

TEST_F(FaultProxyTest, AFaultAppliesToNewConnectionsAndResetAllEndsTheOpenOnes) {
  StartProxy({});
  const int open = Connect(proxy_->port());
  Send(open, "one\n");
  ASSERT_EQ(ReadFrom(open, 100).data.size(), 100u);
  proxy_->SetFault({Mode::kReset, 0ms, 0});
  Send(open, "two\n");
  EXPECT_EQ(ReadFrom(open, 100).data.size(), 100u) << "the open connection kept its mode";
  const int fresh = Connect(proxy_->port());
  EXPECT_TRUE(ReadFrom(fresh, 1).reset);
  ::close(fresh);
  proxy_->ResetAll();
  EXPECT_TRUE(ReadFrom(open, 1).reset);
  ::close(open);
}

TEST(FaultProxyTargetTest, AnUnreachableTargetIsAResetAndCounted) {
  uint16_t port = 0;
  const int fd = ListenLoopback(&port);
  ::close(fd);  // nothing listens there now
  FaultProxy proxy("127.0.0.1", port);
  ASSERT_TRUE(proxy.Start().ok());
  const int c = Connect(proxy.port());
  EXPECT_TRUE(ReadFrom(c, 1).reset);
  ::close(c);
  for (int i = 0; i < 100 && proxy.counts().upstream_failures == 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(proxy.counts().upstream_failures, 1u);
}

TEST(FaultProxyParseTest, FaultsParseAndBadOnesSayWhy) {
  EXPECT_EQ(FaultName(*ParseFault("delay 250")), "delay 250");
  EXPECT_EQ(FaultName(*ParseFault("truncate 0")), "truncate 0");
  EXPECT_EQ(ParseFault("blackhole")->mode, Mode::kBlackhole);
  EXPECT_EQ(ParseFault("reset")->mode, Mode::kReset);
  EXPECT_EQ(ParseFault("pass")->mode, Mode::kPass);
  EXPECT_THAT(ParseFault("delay").status().message(), HasSubstr("milliseconds"));
  EXPECT_THAT(ParseFault("delay -1").status().message(), HasSubstr("milliseconds"));
  EXPECT_THAT(ParseFault("drop everything").status().message(), HasSubstr("unknown fault"));
  EXPECT_THAT(ParseFault("reset now").status().message(), HasSubstr("unexpected 'now'"));
}

}  // namespace
}  // namespace facegate::faultproxy
