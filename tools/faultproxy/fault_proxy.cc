#include "faultproxy/fault_proxy.h"

#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace facegate::faultproxy {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

Result<Fault> ParseFault(const std::string& text) {
  std::istringstream in(text);
  std::string word;
  in >> word;
  Fault f;
  auto number = [&](const char* what) -> Result<long long> {
    long long v = -1;
    if (!(in >> v) || v < 0) {
      return Status::InvalidArgument("'" + word + "' needs " + what + " (e.g. '" + word + " 100')");
    }
    return v;
  };
  if (word == "pass") {
    f.mode = Mode::kPass;
  } else if (word == "delay") {
    auto ms = number("milliseconds");
    if (!ms.ok()) return ms.status();
    f.mode = Mode::kDelay;
    f.delay = std::chrono::milliseconds(*ms);
  } else if (word == "blackhole") {
    f.mode = Mode::kBlackhole;
  } else if (word == "truncate") {
    auto n = number("a byte count");
    if (!n.ok()) return n.status();
    f.mode = Mode::kTruncate;
    f.truncate_after = static_cast<uint64_t>(*n);
  } else if (word == "reset") {
    f.mode = Mode::kReset;
  } else {
    return Status::InvalidArgument("unknown fault '" + text +
                                   "' (pass, delay MS, blackhole, truncate BYTES, reset)");
  }
  std::string rest;
  if (in >> rest) return Status::InvalidArgument("unexpected '" + rest + "' in '" + text + "'");
  return f;
}

std::string FaultName(const Fault& f) {
  switch (f.mode) {
    case Mode::kPass:
      return "pass";
    case Mode::kDelay:
      return "delay " + std::to_string(f.delay.count());
    case Mode::kBlackhole:
      return "blackhole";
    case Mode::kTruncate:
      return "truncate " + std::to_string(f.truncate_after);
    case Mode::kReset:
      return "reset";
  }
  return "?";
}

struct FaultProxy::Impl : std::enable_shared_from_this<FaultProxy::Impl> {
  struct Connection;

  Impl(std::string host, uint16_t target, uint16_t listen)
      : target_host(std::move(host)), target_port(target), listen_port(listen) {}

  void Accept();
  void Forget();

  const std::string target_host;
  const uint16_t target_port;
  const uint16_t listen_port;
  asio::io_context io;
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;
  std::atomic<uint16_t> bound_port{0};
  mutable std::mutex mu;
  Fault fault;                                         // GUARDED_BY(mu)
  std::vector<std::weak_ptr<Connection>> connections;  // I/O thread only
  std::atomic<uint64_t> accepted{0}, upstream_failures{0}, to_target{0}, to_client{0}, open{0};
};

// One client connection and its upstream. Every handler runs on the proxy's one I/O thread.
struct FaultProxy::Impl::Connection : std::enable_shared_from_this<Connection> {
  Connection(std::shared_ptr<Impl> owner, tcp::socket socket, Fault f)
      : impl(std::move(owner)),
        client(std::move(socket)),
        upstream(impl->io),
        fault(f),
        client_timer(impl->io),
        upstream_timer(impl->io) {
    ++impl->open;
  }
  ~Connection() { --impl->open; }

  void Begin() {
    switch (fault.mode) {
      case Mode::kReset:
        return Reset();
      case Mode::kBlackhole:
        return Swallow();
      default:
        break;
    }
    error_code ec;
    const auto address = asio::ip::make_address(impl->target_host, ec);
    if (ec) {
      ++impl->upstream_failures;
      return Reset();
    }
    upstream.async_connect(tcp::endpoint(address, impl->target_port),
                           [self = shared_from_this()](const error_code& e) {
                             if (e) {
                               ++self->impl->upstream_failures;
                               return self->Reset();
                             }
                             self->Pump(true);
                             self->Pump(false);
                           });
  }

  // Reads and drops what the client sends; answers nothing, closes nothing.
  void Swallow() {
    client.async_read_some(asio::buffer(to_target_buf),
                           [self = shared_from_this()](const error_code& e, size_t) {
                             if (!e) self->Swallow();
                           });
  }

  // client -> target when `to_target`, target -> client otherwise.
  void Pump(bool to_target) {
    tcp::socket& from = to_target ? client : upstream;
    auto& buf = to_target ? to_target_buf : to_client_buf;
    from.async_read_some(asio::buffer(buf),
                         [self = shared_from_this(), to_target](const error_code& e, size_t n) {
                           if (e) return self->Close();
                           if (self->fault.mode == Mode::kDelay && self->fault.delay.count() > 0) {
                             auto& timer = to_target ? self->upstream_timer : self->client_timer;
                             timer.expires_after(self->fault.delay);
                             timer.async_wait([self, to_target, n](const error_code& te) {
                               if (te) return self->Close();
                               self->Forward(to_target, n);
                             });
                             return;
                           }
                           self->Forward(to_target, n);
                         });
  }

  void Forward(bool to_target, size_t n) {
    tcp::socket& to = to_target ? upstream : client;
    auto& buf = to_target ? to_target_buf : to_client_buf;
    bool cut = false;
    if (!to_target && fault.mode == Mode::kTruncate) {
      const uint64_t left =
          fault.truncate_after > sent_to_client ? fault.truncate_after - sent_to_client : 0;
      if (n >= left) {
        n = static_cast<size_t>(left);
        cut = true;
      }
    }
    (to_target ? impl->to_target : impl->to_client) += n;
    if (!to_target) sent_to_client += n;
    asio::async_write(to, asio::buffer(buf.data(), n),
                      [self = shared_from_this(), to_target, cut](const error_code& e, size_t) {
                        if (e || cut) return self->Close();
                        self->Pump(to_target);
                      });
  }

  void Close() {
    error_code ec;
    client.shutdown(tcp::socket::shutdown_both, ec);
    client.close(ec);
    upstream.shutdown(tcp::socket::shutdown_both, ec);
    upstream.close(ec);
    client_timer.cancel();
    upstream_timer.cancel();
  }

  // SO_LINGER 0 then close: the peer sees a reset, not an orderly end.
  void Reset() {
    error_code ec;
    client.set_option(asio::socket_base::linger(true, 0), ec);
    client.close(ec);
    upstream.set_option(asio::socket_base::linger(true, 0), ec);
    upstream.close(ec);
    client_timer.cancel();
    upstream_timer.cancel();
  }

  std::shared_ptr<Impl> impl;
  tcp::socket client;
  tcp::socket upstream;
  const Fault fault;
  asio::steady_timer client_timer;
  asio::steady_timer upstream_timer;
  std::array<char, 16384> to_target_buf{};
  std::array<char, 16384> to_client_buf{};
  uint64_t sent_to_client = 0;
};

void FaultProxy::Impl::Accept() {
  acceptor->async_accept([self = shared_from_this()](const error_code& e, tcp::socket s) {
    if (e) {
      if (e == asio::error::operation_aborted) return;
      return self->Accept();
    }
    ++self->accepted;
    Fault f;
    {
      std::lock_guard lock(self->mu);
      f = self->fault;
    }
    auto c = std::make_shared<Connection>(self, std::move(s), f);
    self->Forget();
    self->connections.push_back(c);
    c->Begin();
    self->Accept();
  });
}

void FaultProxy::Impl::Forget() {
  std::erase_if(connections, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
}

FaultProxy::FaultProxy(std::string target_host, uint16_t target_port, uint16_t listen_port)
    : impl_(std::make_shared<Impl>(std::move(target_host), target_port, listen_port)) {}

FaultProxy::~FaultProxy() { Stop(); }

Status FaultProxy::Start() {
  if (impl_->acceptor) return Status::FailedPrecondition("the fault proxy is running already");
  error_code ec;
  tcp::acceptor a(impl_->io);
  const tcp::endpoint at(asio::ip::address_v4::loopback(), impl_->listen_port);
  a.open(at.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(at, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("fault proxy: cannot listen on 127.0.0.1:" +
                           std::to_string(impl_->listen_port) + ": " + ec.message());
  }
  impl_->bound_port = a.local_endpoint().port();
  impl_->acceptor.emplace(std::move(a));
  impl_->Accept();
  impl_->thread = std::thread([impl = impl_] { impl->io.run(); });
  return Status::Ok();
}

void FaultProxy::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->io, [impl = impl_] {
    error_code ec;
    if (impl->acceptor) impl->acceptor->close(ec);
    for (auto& w : impl->connections) {
      if (auto c = w.lock()) c->Reset();
    }
    impl->connections.clear();
    // No io.stop(): the closed sockets and cancelled timers end every pending handler, and
    // run() returns once none is left, so no handler (and no connection) outlives the proxy.
  });
  impl_->thread.join();
}

uint16_t FaultProxy::port() const { return impl_->bound_port; }

void FaultProxy::SetFault(const Fault& fault) {
  std::lock_guard lock(impl_->mu);
  impl_->fault = fault;
}

Fault FaultProxy::fault() const {
  std::lock_guard lock(impl_->mu);
  return impl_->fault;
}

void FaultProxy::ResetAll() {
  asio::post(impl_->io, [impl = impl_] {
    for (auto& w : impl->connections) {
      if (auto c = w.lock()) c->Reset();
    }
    impl->Forget();
  });
}

ProxyCounts FaultProxy::counts() const {
  ProxyCounts c;
  c.connections = impl_->accepted;
  c.upstream_failures = impl_->upstream_failures;
  c.bytes_to_target = impl_->to_target;
  c.bytes_to_client = impl_->to_client;
  c.open = impl_->open;
  return c;
}

}  // namespace facegate::faultproxy
