// RunOne and LookUp: a blocking client's way to do one asynchronous Asio/Beast operation: start it
// on an io_context that only this thread runs, run that context until the operation is done, and
// return its error code. Deadlines are the streams' own (beast::tcp_stream::expires_*). Used by the
// clients that block their calling thread (facegatectl, the SHIP transport). Thread-safety: one
// io_context per calling thread.
#pragma once

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace facegate::net {

// `start(handler)` starts the operation with `handler(error_code, ...)` as its completion.
template <class Start>
boost::beast::error_code RunOne(boost::asio::io_context& ioc, Start&& start) {
  std::optional<boost::beast::error_code> result;
  std::forward<Start>(start)([&result](boost::beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result.value_or(boost::asio::error::operation_aborted);
}

// The endpoints of `host` (an IP literal is used as it is, without a lookup), looked up on
// `ioc` by `deadline`. `timed_out` or `error` say why there are none.
struct Lookup {
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
  bool timed_out = false;
  boost::beast::error_code error;
};

inline Lookup LookUp(boost::asio::io_context& ioc, const std::string& host, uint16_t port,
                     std::chrono::steady_clock::time_point deadline) {
  namespace ip = boost::asio::ip;
  Lookup out;
  boost::system::error_code ec;
  const auto address = ip::make_address(host, ec);
  if (!ec) {
    out.endpoints.emplace_back(address, port);
    return out;
  }
  ip::tcp::resolver resolver(ioc);
  std::optional<boost::beast::error_code> done;
  ip::tcp::resolver::results_type results;
  resolver.async_resolve(host, std::to_string(port),
                         [&](boost::beast::error_code rec, ip::tcp::resolver::results_type r) {
                           done = rec;
                           results = std::move(r);
                         });
  ioc.restart();
  ioc.run_until(deadline);
  if (!done) {
    resolver.cancel();
    ioc.restart();
    ioc.run();
    out.timed_out = true;
    return out;
  }
  out.error = *done;
  if (!out.error) {
    for (const auto& r : results) out.endpoints.push_back(r.endpoint());
  }
  return out;
}

}  // namespace facegate::net
