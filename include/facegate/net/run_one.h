// RunOne: a blocking client's way to do one asynchronous Asio/Beast operation: start it on
// an io_context that only this thread runs, run that context until the operation is done,
// and return its error code. Deadlines are the streams' own (beast::tcp_stream::expires_*).
// Used by the clients that block their calling thread (facegatectl, the SHIP transport).
// Thread-safety: one io_context per calling thread.
#pragma once

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/error.hpp>
#include <optional>
#include <utility>

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

}  // namespace facegate::net
