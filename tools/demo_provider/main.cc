// qaqpa-demo-provider: a small, real HTTP/1.1 provider for the demo bundle, integration tests and
// benchmarks. One io_context, one thread, one coroutine per connection (keep-alive loop).
//
//   qaqpa-demo-provider --dataset population|legal-entity|tax --listen HOST:PORT
//                       [--port-file PATH] [--delay-ms N]
//
// Endpoints:
//   GET /  and  GET /{id}     the record for `{id}` or for the Qaqpa-Subject header (IIN:/BIN:);
//                             400 problem when no id is given, 404 problem when it is unknown.
//                             A non-numeric path segment is taken as a base path and ignored.
//   POST /echo                the request body, same Content-Type (benchmarks).
//   GET /_demo/stats          {"connections_accepted", "requests", "active_connections",
//                             "in_flight"}; every connection and request is counted, this one
//                             included; in_flight counts data requests being answered (delayed).
//   GET /_demo/echo-headers   {"method", "target", "headers": {lower-case name: value}} as
//                             received (repeated fields joined with ", "): lets tests check what
//                             the gateway forwards.
//   GET /_demo/status/{code}  a problem with that status (200..599): provider failures on demand.
//   GET /_demo/messages/{id}  {"messageId", "received", "processed"}: how often a data request
//                             with this Qaqpa-Message-Id arrived and how often it was processed
//                             (at most once: see dedup below).
// Dedup (what providers are asked to do, PROTOCOL.md §4): a data request whose (Qaqpa-Client,
// Qaqpa-Message-Id) was seen before is answered with the stored answer of the first one and
// counted as a duplicate, not processed again (the last 100 000 ids are remembered).
// X-Demo-Delay-Ms: N (≤ 60000) on a data request delays that answer by N ms more.
// --delay-ms delays every answer except /_demo/* with a timer (a slow provider); port 0 binds an
// ephemeral port, written as decimal to --port-file (tmp + rename) once listening. SIGTERM/SIGINT:
// stop accepting, close idle connections, let in-flight answers finish (at most 5 s), exit 0.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "tools/demo_provider/dataset.h"

namespace qaqpa::demo {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kIdleTimeout = 60s;
constexpr auto kWriteTimeout = 30s;
constexpr auto kShutdownGrace = 5s;
constexpr std::size_t kHeaderLimit = 64 * 1024;
constexpr std::uint64_t kBodyLimit = 64 * 1024 * 1024;
constexpr std::size_t kDedupEntries = 100'000;
constexpr long kMaxRequestDelayMs = 60'000;

struct Options {
  DatasetKind dataset = DatasetKind::Population;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string port_file;
  std::chrono::milliseconds delay{0};
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "qaqpa-demo-provider: %s\n"
               "usage: qaqpa-demo-provider --dataset population|legal-entity|tax "
               "--listen HOST:PORT [--port-file PATH] [--delay-ms N]\n",
               why);
  std::exit(2);
}

template <typename T>
bool parseNumber(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

Options parseOptions(int argc, char** argv) {
  Options o;
  bool have_dataset = false, have_listen = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage("missing value after an option");
      return argv[++i];
    };
    if (arg == "--dataset") {
      auto kind = parseDatasetKind(value());
      if (!kind) usage("unknown --dataset");
      o.dataset = *kind;
      have_dataset = true;
    } else if (arg == "--listen") {
      std::string_view v = value();
      auto colon = v.rfind(':');
      if (colon == std::string_view::npos) usage("--listen wants HOST:PORT");
      std::string_view host = v.substr(0, colon);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
      o.host = std::string(host);
      if (!parseNumber(v.substr(colon + 1), o.port)) usage("bad port in --listen");
      have_listen = true;
    } else if (arg == "--port-file") {
      o.port_file = std::string(value());
    } else if (arg == "--delay-ms") {
      long ms = 0;
      if (!parseNumber(value(), ms) || ms < 0) usage("bad --delay-ms");
      o.delay = std::chrono::milliseconds(ms);
    } else if (arg == "--help" || arg == "-h") {
      usage("help");
    } else {
      usage("unknown option");
    }
  }
  if (!have_dataset || !have_listen) usage("--dataset and --listen are required");
  return o;
}

// Written next to the target and renamed, so a reader never sees a partial number.
bool writePortFile(const std::string& path, std::uint16_t port) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << '\n';
    out.flush();
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Counts a data request from its read until its answer is written (or the session ends).
struct InFlight {
  explicit InFlight(std::uint64_t* counter) : counter_(counter) {
    if (counter_) ++*counter_;
  }
  ~InFlight() {
    if (counter_) --*counter_;
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::uint64_t* counter_;
};

struct Connection {
  beast::tcp_stream stream;
  bool idle = true;  // waiting for the next request: may be closed at shutdown
};

class Server {
 public:
  Server(asio::io_context& io, Options opts)
      : io_(io), opts_(std::move(opts)), data_(makeDataset(opts_.dataset)), acceptor_(io) {}

  bool listen() {
    beast::error_code ec;
    auto addr = asio::ip::make_address(opts_.host, ec);
    if (ec) return fail("bad listen address", ec);
    tcp::endpoint ep(addr, opts_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("cannot listen", ec);
    auto port = acceptor_.local_endpoint().port();
    if (!opts_.port_file.empty() && !writePortFile(opts_.port_file, port)) {
      std::fprintf(stderr, "demo-provider: cannot write port file %s\n", opts_.port_file.c_str());
      return false;
    }
    std::fprintf(stderr, "demo-provider[%s] listening on %s:%u delay=%lldms\n", name(),
                 opts_.host.c_str(), port, static_cast<long long>(opts_.delay.count()));
    return true;
  }

  asio::awaitable<void> acceptLoop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (stopping_) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      ++connections_accepted_;
      asio::co_spawn(io_, session(std::move(socket)), asio::detached);
    }
  }

  // Stops accepting and closes idle connections; `drained` runs once no connection is left.
  void stop(std::function<void()> drained) {
    if (stopping_) return;
    drained_ = std::move(drained);
    stopping_ = true;
    std::fprintf(stderr, "demo-provider[%s] stopping\n", name());
    beast::error_code ec;
    acceptor_.close(ec);
    for (Connection* c : connections_) {
      if (c->idle) c->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      if (c->idle) c->stream.cancel();
    }
    checkDrained();
  }

 private:
  const char* name() const { return datasetName(opts_.dataset).data(); }

  void checkDrained() {
    if (stopping_ && connections_.empty() && drained_) std::exchange(drained_, nullptr)();
  }

  bool fail(const char* what, const beast::error_code& ec) {
    std::fprintf(stderr, "demo-provider: %s: %s\n", what, ec.message().c_str());
    return false;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    Connection conn{beast::tcp_stream(std::move(socket))};
    connections_.insert(&conn);
    struct Unregister {
      Server* s;
      Connection* c;
      ~Unregister() {
        s->connections_.erase(c);
        s->checkDrained();
      }
    } unregister{this, &conn};

    beast::flat_buffer buffer;
    for (;;) {
      if (stopping_) break;
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(kBodyLimit);
      conn.idle = true;
      conn.stream.expires_after(kIdleTimeout);
      auto [rec, rn] = co_await http::async_read(conn.stream, buffer, parser,
                                                 asio::as_tuple(asio::use_awaitable));
      conn.idle = false;
      if (rec) break;  // end of stream, timeout, shutdown or a malformed request: just close
      Request req = parser.release();
      ++requests_;
      bool demo = req.target().starts_with("/_demo/");
      InFlight in_flight{demo ? nullptr : &in_flight_};

      Response res = demo ? handle(req) : handleOnce(req);
      auto delay = demo ? std::chrono::milliseconds(0) : opts_.delay + requestDelay(req);
      if (delay.count() > 0) {
        asio::steady_timer timer(io_, delay);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      log(req, res);
      res.version(req.version());
      res.keep_alive(req.keep_alive() && !stopping_);
      res.prepare_payload();
      conn.stream.expires_after(kWriteTimeout);
      auto [wec, wn] =
          co_await http::async_write(conn.stream, res, asio::as_tuple(asio::use_awaitable));
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ec;
    conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    conn.stream.close();
  }

  static std::chrono::milliseconds requestDelay(const Request& req) {
    long ms = 0;
    const auto v = req["X-Demo-Delay-Ms"];
    if (v.empty() || !parseNumber(v, ms) || ms < 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(std::min(ms, kMaxRequestDelayMs));
  }

  // A data request: processed once per (client, message id); repeats get the first answer.
  Response handleOnce(const Request& req) {
    const std::string message_id(req["Qaqpa-Message-Id"]);
    if (message_id.empty()) return handle(req);
    MessageCount& count = message_counts_[message_id];
    ++count.received;
    const std::string key = std::string(req["Qaqpa-Client"]) + "|" + message_id;
    if (auto it = answers_.find(key); it != answers_.end()) {
      ++duplicates_;
      std::fprintf(stderr, "demo-provider[%s] duplicate message-id=%s answered from memory\n",
                   name(), message_id.c_str());
      return it->second;
    }
    ++count.processed;
    Response res = handle(req);
    if (answers_.size() >= kDedupEntries) {
      answers_.erase(answer_order_.front());
      message_counts_.erase(answer_order_.front().substr(answer_order_.front().find('|') + 1));
      answer_order_.pop_front();
    }
    answers_.emplace(key, res);
    answer_order_.push_back(key);
    return res;
  }

  Response handle(const Request& req) {
    std::string_view target = req.target();
    std::string_view path = target.substr(0, target.find('?'));
    if (path == "/_demo/stats") {
      if (req.method() != http::verb::get) return methodNotAllowed("GET");
      return jsonResponse(http::status::ok, json::value{
                                                {"connections_accepted", connections_accepted_},
                                                {"requests", requests_},
                                                {"active_connections", connections_.size()},
                                                {"in_flight", in_flight_},
                                                {"duplicates", duplicates_},
                                            });
    }
    if (path.starts_with("/_demo/messages/")) {
      const std::string id(path.substr(16));
      const auto it = message_counts_.find(id);
      const MessageCount c = it == message_counts_.end() ? MessageCount{} : it->second;
      return jsonResponse(
          http::status::ok,
          json::value{{"messageId", id}, {"received", c.received}, {"processed", c.processed}});
    }
    if (path == "/_demo/echo-headers") return echoHeaders(req);
    if (path.starts_with("/_demo/status/")) return statusAnswer(path.substr(14));
    if (path == "/echo") {
      if (req.method() != http::verb::post) return methodNotAllowed("POST");
      Response res{http::status::ok, req.version()};
      auto ct = req[http::field::content_type];
      res.set(http::field::content_type, ct.empty() ? "application/octet-stream" : ct);
      res.body() = req.body();
      return res;
    }
    if (req.method() != http::verb::get) return methodNotAllowed("GET");
    return lookup(req, path);
  }

  Response lookup(const Request& req, std::string_view path) {
    std::string_view id = path;
    if (auto slash = id.rfind('/'); slash != std::string_view::npos) id = id.substr(slash + 1);
    if (id.starts_with("IIN:") || id.starts_with("BIN:")) id.remove_prefix(4);
    bool numeric = !id.empty() && id.find_first_not_of("0123456789") == std::string_view::npos;
    if (!numeric) {
      // "/" or a base path: the subject header names the record.
      id = req["Qaqpa-Subject"];
      if (id.starts_with("IIN:") || id.starts_with("BIN:")) id.remove_prefix(4);
    }
    const char* kind = opts_.dataset == DatasetKind::LegalEntity ? "BIN" : "IIN";
    if (id.empty()) {
      return problem(http::status::bad_request, "urn:qaqpa-demo:bad-request", "Bad request",
                     std::string("no ") + kind + ": neither in the path nor in Qaqpa-Subject");
    }
    if (id.size() != 12 || id.find_first_not_of("0123456789") != std::string_view::npos) {
      return problem(http::status::bad_request, "urn:qaqpa-demo:bad-request", "Bad request",
                     std::string(kind) + " must be 12 digits");
    }
    const json::value* record = data_.find(id);
    if (record == nullptr) {
      return problem(http::status::not_found, "urn:qaqpa-demo:not-found", "Not found",
                     std::string("no record for ") + kind + " " + std::string(id));
    }
    return jsonResponse(http::status::ok, *record);
  }

  Response echoHeaders(const Request& req) {
    json::object headers;
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto value = field.value();
      if (auto* existing = headers.if_contains(name)) {
        std::string joined(existing->as_string());
        joined += ", ";
        joined += value;
        *existing = joined;
      } else {
        headers[name] = value;
      }
    }
    return jsonResponse(http::status::ok, json::value{{"method", req.method_string()},
                                                      {"target", req.target()},
                                                      {"headers", std::move(headers)},
                                                      {"bodyBytes", req.body().size()}});
  }

  // A problem with the requested status (e.g. 500, 503): lets tests see how the gateway maps
  // provider failures. The detail names something internal the gateway must not pass on.
  Response statusAnswer(std::string_view code_text) {
    unsigned code = 0;
    if (!parseNumber(code_text, code) || code < 200 || code > 599) {
      return problem(http::status::bad_request, "urn:qaqpa-demo:bad-request", "Bad request",
                     "status must be 200..599");
    }
    return problem(static_cast<http::status>(code), "urn:qaqpa-demo:requested-status",
                   "Requested status", "demo-internal: db01.provider.local refused");
  }

  Response methodNotAllowed(const char* allow) {
    Response res = problem(http::status::method_not_allowed, "urn:qaqpa-demo:method-not-allowed",
                           "Method not allowed", std::string("use ") + allow);
    res.set(http::field::allow, allow);
    return res;
  }

  static Response jsonResponse(http::status status, const json::value& body) {
    Response res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = json::serialize(body);
    return res;
  }

  static Response problem(http::status status, const char* type, const char* title,
                          std::string detail) {
    Response res = jsonResponse(status, json::value{{"type", type},
                                                    {"title", title},
                                                    {"status", static_cast<int>(status)},
                                                    {"detail", std::move(detail)}});
    res.set(http::field::content_type, "application/problem+json");
    return res;
  }

  void log(const Request& req, const Response& res) {
    auto or_dash = [](std::string_view v) { return v.empty() ? std::string_view("-") : v; };
    auto msg = or_dash(req["Qaqpa-Message-Id"]);
    auto gw = or_dash(req["Qaqpa-Gateway"]);
    auto target = req.target();
    std::fprintf(stderr, "demo-provider[%s] %.*s %.*s -> %u message-id=%.*s gateway=%.*s\n", name(),
                 static_cast<int>(req.method_string().size()), req.method_string().data(),
                 static_cast<int>(target.size()), target.data(), res.result_int(),
                 static_cast<int>(msg.size()), msg.data(), static_cast<int>(gw.size()), gw.data());
  }

  asio::io_context& io_;
  Options opts_;
  Dataset data_;
  tcp::acceptor acceptor_;
  bool stopping_ = false;
  std::uint64_t connections_accepted_ = 0;
  std::uint64_t requests_ = 0;
  std::uint64_t in_flight_ = 0;  // data requests read and not yet answered (excludes /_demo/*)
  std::unordered_set<Connection*> connections_;
  struct MessageCount {
    std::uint64_t received = 0;
    std::uint64_t processed = 0;
  };
  std::unordered_map<std::string, MessageCount> message_counts_;  // by Qaqpa-Message-Id
  std::unordered_map<std::string, Response> answers_;             // by "client|message id"
  std::deque<std::string> answer_order_;                          // oldest first, for the bound
  std::uint64_t duplicates_ = 0;
  std::function<void()> drained_;
};

}  // namespace
}  // namespace qaqpa::demo

int main(int argc, char** argv) {
  namespace asio = boost::asio;
  using qaqpa::demo::Server;
  auto opts = qaqpa::demo::parseOptions(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);

  asio::io_context io(1);
  Server server(io, std::move(opts));
  if (!server.listen()) return 1;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer grace(io);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    // In-flight answers (possibly delayed) get a bounded time to finish.
    grace.expires_after(qaqpa::demo::kShutdownGrace);
    server.stop([&] { io.stop(); });
    grace.async_wait([&](const boost::system::error_code& gec) {
      if (!gec) io.stop();
    });
  });
  asio::co_spawn(io, server.acceptLoop(), asio::detached);
  io.run();
  return 0;
}
