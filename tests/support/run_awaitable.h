// Runs one awaitable to completion on a private io_context (single-threaded, like a worker) and
// returns its result; an exception escaping the awaitable is rethrown to the test.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace qaqpa::test_support {

template <class T>
T runAwaitable(boost::asio::awaitable<T> task) {
  boost::asio::io_context ioc;
  auto future = boost::asio::co_spawn(ioc, std::move(task), boost::asio::use_future);
  ioc.run();
  return future.get();
}

}  // namespace qaqpa::test_support
