// RedisClient: one non-blocking Redis connection (hiredis 0.14 redisAsyncContext) driven by one
// worker's io_context, wrapped once into awaitables. See adapters/redis/README.md.
//
// Threading: single-threaded. Create, use and destroy a client on the thread that runs its
// executor's io_context (one client per worker); no method is thread-safe and none blocks, except
// createBlocking (reads the password file). The io_context must outlive the client.
//
// Connection: TCP host:port (a name is resolved by Asio's resolver, off the worker) or a unix
// socket path. On every (re)connect the client sends AUTH (when a password file is configured),
// SELECT (when db != 0) and PING, and is Connected only when all answered without error, within
// connect_timeout of the attempt's start. On any failure or loss it goes Down and reconnects after
// an exponential backoff with jitter, bounded by reconnect_backoff_max, until stop() or
// destruction. hiredis writes with write(2): the process must ignore SIGPIPE.
//
// Commands: every call has a deadline and completes exactly once, never throws:
//   errc Ok           the server answered; value holds the answer (which may be an error reply)
//   errc Timeout      no answer by the deadline; the command may still run on the server, and
//                     its late reply is discarded when it arrives
//   errc Disconnected not Connected when called, or the connection dropped before the answer
//   errc Overloaded   max_in_flight commands already await answers on this connection
//   errc Invalid      empty argv; nothing was sent
// Commands are never queued while the client is Down or Connecting: callers fail fast.
// Arguments are copied into hiredis's output buffer before the first suspension, so argv only
// has to live until the call's co_await completes (keep the co_await in the same full-expression).
// The awaitables are lazy: nothing is sent before they are co_awaited.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace qaqpa::adapters::redis {

// Metric handles resolved by the caller when the server is built; any pointer may be null, and so
// may the struct pointer given to the client. Suggested names in README.md.
struct RedisMetrics {
  prometheus::Counter* commands = nullptr;           // commands asked for (incl. refused ones)
  prometheus::Counter* error_replies = nullptr;      // the server answered with an error
  prometheus::Counter* timeouts = nullptr;           // deadline passed before the answer
  prometheus::Counter* disconnected = nullptr;       // failed: not connected / connection lost
  prometheus::Counter* overloaded = nullptr;         // refused: max_in_flight reached
  prometheus::Counter* late_replies = nullptr;       // answers discarded after their timeout
  prometheus::Counter* reconnects = nullptr;         // successful connects after the first one
  prometheus::Counter* connect_failures = nullptr;   // connect/handshake failed or timed out
  prometheus::Counter* connections_lost = nullptr;   // an established connection dropped
  prometheus::Counter* script_fallbacks = nullptr;   // EVALSHA answered NOSCRIPT, EVAL sent
  prometheus::Gauge* connected = nullptr;            // 1 when Connected, else 0
  prometheus::Histogram* command_seconds = nullptr;  // one call (command or batch), answered
};

struct RedisSettings {
  std::string host = "127.0.0.1";  // address or name (names resolved off the worker, per attempt)
  std::uint16_t port = 6379;
  std::string unix_path;      // when not empty, connect to this socket; host and port unused
  std::string username;       // Redis 6+ ACL user; empty: "AUTH <password>"
  std::string password_file;  // empty: no AUTH; else the file's content minus trailing newline
  int db = 0;                 // SELECT db when not 0
  std::chrono::milliseconds connect_timeout{1000};  // resolve + connect(2) + AUTH/SELECT/PING
  std::chrono::milliseconds reconnect_backoff_initial{100};
  std::chrono::milliseconds reconnect_backoff_max{5000};
  std::size_t max_in_flight = 4096;  // commands awaiting an answer, incl. timed-out ones
};

enum class RedisState : std::uint8_t { Down, Connecting, Connected };
std::string_view stateName(RedisState s) noexcept;

enum class RedisErrc : std::uint8_t { Ok, Timeout, Disconnected, Overloaded, Invalid };
std::string_view errcName(RedisErrc e) noexcept;

// A Redis (RESP2) value, copied out of hiredis's reply: no pointer into hiredis memory is kept.
struct RedisValue {
  enum class Type : std::uint8_t { Nil, Status, Error, Integer, String, Array };
  Type type = Type::Nil;
  long long integer = 0;             // Integer
  std::string str;                   // Status text, Error text, String bytes (binary-safe)
  std::vector<RedisValue> elements;  // Array

  bool isNil() const noexcept { return type == Type::Nil; }
  bool isError() const noexcept { return type == Type::Error; }
  bool isString() const noexcept { return type == Type::String; }
  bool isInteger() const noexcept { return type == Type::Integer; }
  bool isArray() const noexcept { return type == Type::Array; }
  // Status "OK" (SET, SELECT, ...).
  bool isOk() const noexcept { return type == Type::Status && str == "OK"; }
};

struct RedisReply {
  RedisErrc errc = RedisErrc::Disconnected;
  RedisValue value;  // meaningful only when errc == Ok

  // The server answered, and not with an error reply.
  bool ok() const noexcept { return errc == RedisErrc::Ok && !value.isError(); }
};

using RedisDeadline = std::chrono::steady_clock::time_point;
using RedisArgv = std::vector<std::string_view>;

// A Lua script for evalScript: its body and SHA1 (computed locally, as Redis does).
class RedisScript {
 public:
  explicit RedisScript(std::string body);
  const std::string& body() const noexcept { return body_; }
  const std::string& sha1() const noexcept { return sha1_; }  // 40 lowercase hex digits

 private:
  std::string body_;
  std::string sha1_;
};

class RedisClient {
 public:
  // Reads settings.password_file (blocking I/O: call at startup or on the blocking pool, not on a
  // worker). Returns null with *error set when the file cannot be read or is empty, or settings
  // are invalid. metrics (nullable) must outlive the client. Does not connect: call start().
  static std::unique_ptr<RedisClient> createBlocking(boost::asio::any_io_executor executor,
                                                     RedisSettings settings,
                                                     const RedisMetrics* metrics,
                                                     std::string* error = nullptr);

  // Frees the connection: commands in flight complete with Disconnected (after this returns,
  // when their coroutines next run). No reconnect afterwards.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Starts connecting (and reconnecting from then on). Idempotent; does nothing after stop().
  void start();
  // Closes the connection (in-flight commands: Disconnected) and stops reconnecting, for good.
  void stop();

  RedisState state() const noexcept;
  std::size_t inFlight() const noexcept;
  // Called (posted to the executor, in order) on every state change; for readiness.
  void setStateListener(std::function<void(RedisState)> listener);
  // True once Connected (at once if already); false when the deadline passes or stop() is called.
  boost::asio::awaitable<bool> waitConnected(RedisDeadline deadline);

  // One command, binary-safe arguments: co_await client.exec(deadline, "SET", key, value).
  // (Variadic rather than a braced list: GCC 12 cannot keep an initializer_list's array alive
  // across a co_await — "array used as initializer".)
  template <typename... Args>
  requires(sizeof...(Args) > 0 && (std::convertible_to<const Args&, std::string_view> && ...))
      boost::asio::awaitable<RedisReply> exec(RedisDeadline deadline, const Args&... argv) {
    return execArray<sizeof...(Args)>({std::string_view(argv)...}, deadline);
  }
  // The same with argv built at run time.
  boost::asio::awaitable<RedisReply> exec(std::span<const std::string_view> argv,
                                          RedisDeadline deadline);

  // A pipeline: all commands are written at once and answered in order; one result per command,
  // in order. Admission is all or nothing (Overloaded / Disconnected for every command). On the
  // deadline, answered commands keep their answers and the rest are Timeout.
  boost::asio::awaitable<std::vector<RedisReply>> execBatch(std::span<const RedisArgv> commands,
                                                            RedisDeadline deadline);

  // EVALSHA sha numkeys keys... args...; on a NOSCRIPT error (script cache flushed, server
  // restarted, failover) sends EVAL with the body once, which also caches it on the server. Never
  // falls back after a Timeout or Disconnected: the script may have run.
  boost::asio::awaitable<RedisReply> evalScript(const RedisScript& script,
                                                std::span<const std::string_view> keys,
                                                std::span<const std::string_view> args,
                                                RedisDeadline deadline);
  // SCRIPT LOAD, e.g. at startup; ok() and the answer equals script.sha1() on success.
  boost::asio::awaitable<RedisReply> loadScript(const RedisScript& script, RedisDeadline deadline);
  // Loads `script` into the server's cache as part of every connection's handshake (SCRIPT LOAD
  // before the final PING), so the first evalScript of a connection — after start, a reconnect or
  // a Redis restart that emptied the cache — is one EVALSHA instead of EVALSHA, NOSCRIPT, EVAL:
  // a hot path with a short deadline must not pay two round trips on its first call. A refused
  // load is logged and does not fail the handshake (evalScript still falls back to EVAL). Call
  // before start(), from the thread that created the client; `script` must outlive the client.
  void preloadScript(const RedisScript& script);

  struct Impl;

 private:
  template <std::size_t N>
  boost::asio::awaitable<RedisReply> execArray(std::array<std::string_view, N> argv,
                                               RedisDeadline deadline) {
    co_return co_await exec(std::span<const std::string_view>(argv), deadline);
  }

  explicit RedisClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace qaqpa::adapters::redis
