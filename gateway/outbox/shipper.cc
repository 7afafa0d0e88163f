#include "gateway/outbox/shipper.h"

#include <algorithm>
#include <random>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/common/log.h"
#include "gateway/journal/format.h"
#include "gateway/metrics/metrics.h"
#include "gateway/outbox/journal_tail.h"
#include "gateway/space_index/event_fields.h"
#include "gateway/space_index/event_index.h"
#include "gateway/space_index/redis_index_keys.h"

namespace qaqpa::outbox {
namespace {

namespace asio = boost::asio;
using adapters::redis::RedisArgv;
using adapters::redis::RedisClient;
using adapters::redis::RedisReply;
using Steady = std::chrono::steady_clock;

// The commands of one batch: the strings they point into live in `store` (a deque-like vector of
// strings reserved up front would move; std::vector<std::string> entries never move once all are
// added, so the argv views are built after the last push).
class Batch {
 public:
  void command(std::initializer_list<std::string> args) {
    starts_.push_back(store_.size());
    for (const auto& a : args) {
      bytes_ += a.size();
      store_.push_back(a);
    }
  }
  std::vector<RedisArgv> argv() const {
    std::vector<RedisArgv> out;
    out.reserve(starts_.size());
    for (std::size_t i = 0; i < starts_.size(); ++i) {
      const std::size_t end = i + 1 < starts_.size() ? starts_[i + 1] : store_.size();
      RedisArgv a;
      for (std::size_t j = starts_[i]; j < end; ++j) a.push_back(store_[j]);
      out.push_back(std::move(a));
    }
    return out;
  }
  std::size_t bytes() const noexcept { return bytes_; }
  bool empty() const noexcept { return starts_.empty(); }
  void clear() {
    store_.clear();
    starts_.clear();
    bytes_ = 0;
  }

 private:
  std::vector<std::string> store_;
  std::vector<std::size_t> starts_;
  std::size_t bytes_ = 0;
};

// The last shipped event that names a subject, waiting for the next event's hash (its proof's
// "next hash").
struct PendingNext {
  std::string subject;
  std::uint64_t seq = 0;
};

}  // namespace

std::string_view Shipper::stateName(State s) noexcept {
  switch (s) {
    case State::Starting:
      return "starting";
    case State::CaughtUp:
      return "caught-up";
    case State::Lagging:
      return "lag";
    case State::Down:
      return "down";
  }
  return "down";
}

Shipper::Shipper(ShipperOptions options, const ShipperMetrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {}

std::unique_ptr<Shipper> Shipper::createBlocking(ShipperOptions options,
                                                 const ShipperMetrics* metrics,
                                                 const adapters::redis::RedisMetrics* redis_metrics,
                                                 std::string& error) {
  if (!space_index::isKeySafeNodeId(options.node_id)) {
    error = "outbox: node id '" + options.node_id + "' cannot be used in Redis keys";
    return nullptr;
  }
  if (options.batch_events == 0 || options.batch_bytes == 0 ||
      !(options.max_events_per_second > 0)) {
    error = "outbox: batch_events, batch_bytes and max_events_per_second must be positive";
    return nullptr;
  }
  static const ShipperMetrics kNoMetrics;
  std::unique_ptr<Shipper> s(new Shipper(std::move(options), metrics ? metrics : &kNoMetrics));
  std::string why;
  s->client_ =
      RedisClient::createBlocking(s->ioc_.get_executor(), s->options_.redis, redis_metrics, &why);
  if (!s->client_) {
    error = "outbox redis: " + why;
    return nullptr;
  }
  return s;
}

Shipper::~Shipper() { stop(); }

std::uint64_t Shipper::lag() const noexcept {
  const std::uint64_t c = committed_.load(std::memory_order_acquire);
  const std::uint64_t s = shipped_.load(std::memory_order_acquire);
  return c > s ? c - s : 0;
}

void Shipper::setState(State s) noexcept {
  state_.store(s, std::memory_order_release);
  metrics::set(metrics_->lag, static_cast<double>(lag()));
}

void Shipper::notifyCommitted(std::uint64_t seq) noexcept {
  committed_.store(seq, std::memory_order_release);
  if (!wake_posted_.exchange(true, std::memory_order_acq_rel)) {
    asio::post(ioc_, [this] {
      wake_posted_.store(false, std::memory_order_release);
      wake_.cancel();
    });
  }
}

journal::CommitObserver Shipper::observer() {
  return [this](std::uint64_t seq, std::string_view) { notifyCommitted(seq); };
}

void Shipper::start(std::uint64_t committed_seq) {
  if (thread_.joinable()) return;
  committed_.store(std::max(committed_seq, committed_.load()), std::memory_order_release);
  thread_ = std::thread([this] {
    client_->setStateListener([this](adapters::redis::RedisState st) {
      if (st != adapters::redis::RedisState::Connected) connection_lost_ = true;
    });
    client_->start();
    asio::co_spawn(ioc_, run(), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        common::log(common::LogLevel::Error, "outbox stopped by an exception (a bug)",
                    {{"what", ex.what()}});
      }
    });
    ioc_.run();
    client_.reset();  // on the thread that ran its io_context
    ioc_.restart();
    ioc_.poll();
  });
}

void Shipper::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  asio::post(ioc_, [this] {
    wake_.cancel();
    pause_.cancel();
    if (client_) client_->stop();
  });
  thread_.join();
}

asio::awaitable<void> Shipper::idleFor(std::chrono::nanoseconds d) {
  wake_.expires_after(d);
  co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> Shipper::pauseFor(std::chrono::nanoseconds d) {
  if (stopping_.load()) co_return;
  pause_.expires_after(d);
  co_await pause_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> Shipper::run() {
  const std::string& node = options_.node_id;
  const std::string cursor_key = space_index::outboxCursorKey(node);
  const std::string ckpt_index = space_index::checkpointIndexKey(node);
  const std::string ckpt_data = space_index::checkpointDataKey(node);
  JournalTail tail(options_.dir, options_.archive_dir);
  bool positioned = false;
  PendingNext pending;
  std::chrono::milliseconds backoff = options_.retry_initial;
  std::minstd_rand jitter(std::random_device{}());
  Steady::time_point rate_next = Steady::now();
  bool logged_down = false;
  bool logged_wait_error = false;
  std::uint64_t waits_while_lagging = 0;
  Batch batch;

  auto fail = [&](std::string_view what, std::string_view detail) {
    metrics::inc(metrics_->errors);
    setState(State::Down);
    positioned = false;
    if (!logged_down) {
      logged_down = true;
      common::log(common::LogLevel::Warn,
                  "outbox cannot ship to redis; retrying (events stay in the local journal)",
                  {{"what", what},
                   {"detail", detail},
                   {"shipped_seq", std::to_string(shippedSeq())},
                   {"committed_seq", std::to_string(committedSeq())}});
    }
  };
  auto backOff = [&]() -> asio::awaitable<void> {
    const auto half = backoff / 2;
    const auto wait = half + std::chrono::milliseconds(
                                 std::uniform_int_distribution<long long>(0, half.count())(jitter));
    co_await pauseFor(wait);
    backoff = std::min(backoff * 2, options_.retry_max);
  };

  while (!stopping_.load()) {
    if (connection_lost_) {
      // Redis may come back without the data (restarted without AOF, failed over): read the
      // cursor again before shipping on.
      connection_lost_ = false;
      positioned = false;
    }
    if (client_->state() != adapters::redis::RedisState::Connected) {
      // Redis may come back without the data (restarted without AOF): read the cursor again.
      positioned = false;
      setState(State::Down);
      co_await client_->waitConnected(Steady::now() + options_.idle_tick);
      continue;
    }
    if (!positioned) {
      RedisReply r =
          co_await client_->exec(Steady::now() + options_.command_timeout, "GET", cursor_key);
      if (!r.ok() || !(r.value.isNil() || r.value.isString())) {
        fail("GET outbox cursor", r.errc == adapters::redis::RedisErrc::Ok
                                      ? std::string_view(r.value.str)
                                      : adapters::redis::errcName(r.errc));
        co_await backOff();
        continue;
      }
      std::uint64_t pos = 0;
      if (r.value.isString()) {
        pos = std::strtoull(r.value.str.c_str(), nullptr, 10);
      } else if (committedSeq() > 0) {
        common::log(common::LogLevel::Info,
                    "outbox cursor absent in redis: shipping this node's events from the journal's "
                    "files (rate-bounded)",
                    {{"committed_seq", std::to_string(committedSeq())}});
      }
      if (pos > committedSeq()) {
        common::log(
            common::LogLevel::Error,
            "outbox cursor in redis is beyond this node's journal (another journal with "
            "the same node id?); shipping from the journal's head",
            {{"cursor", std::to_string(pos)}, {"committed_seq", std::to_string(committedSeq())}});
        pos = committedSeq();
      }
      std::string error;
      std::uint64_t skipped_to = 0;
      if (!tail.seekBlocking(pos == 0 ? 1 : pos, error, &skipped_to)) {
        fail("journal files", error);
        co_await backOff();
        continue;
      }
      if (skipped_to != 0) {
        common::log(common::LogLevel::Warn,
                    "outbox: archived segments without an archive_dir cannot be shipped",
                    {{"from", std::to_string(pos)}, {"resumed_at", std::to_string(skipped_to)}});
      }
      shipped_.store(pos, std::memory_order_relaxed);
      pending = {};
      positioned = true;
      waits_while_lagging = 0;
    }

    // Collect one batch of committed records.
    batch.clear();
    const std::uint64_t limit = committedSeq();
    std::size_t events = 0;
    std::uint64_t last_seq = shippedSeq();
    bool read_error = false;
    std::string error;
    for (;;) {
      TailRecord rec;
      const JournalTail::Next n = tail.nextBlocking(limit, rec, error);
      if (n == JournalTail::Next::Wait) break;
      if (n == JournalTail::Next::Error) {
        read_error = true;
        break;
      }
      if (rec.type == TailRecord::Type::Checkpoint) {
        const std::string member = space_index::seqField(rec.seq);
        batch.command({"HSET", ckpt_data, member, std::string(rec.bytes)});
        batch.command({"ZADD", ckpt_index, std::to_string(rec.seq), member});
        if (events >= options_.batch_events || batch.bytes() >= options_.batch_bytes) break;
        continue;
      }
      space_index::EventFields f;
      space_index::extractEventFields(rec.bytes, f);  // checked by the tail
      std::string_view canonical;
      std::string_view hash;
      if (!pending.subject.empty() && pending.seq + 1 == rec.seq &&
          journal::splitHashField(rec.bytes, canonical, hash)) {
        batch.command({"HSET", space_index::subjectDataKey(pending.subject),
                       "n:" + space_index::eventRef(node, pending.seq), std::string(hash)});
      }
      pending = {};
      if (space_index::packSubject(f.subject)) {
        const std::string ref = space_index::eventRef(node, rec.seq);
        std::string meta = std::to_string(f.kind);
        meta += '|';
        meta += f.service_id;
        meta += '|';
        meta += f.client_id;
        // The data first, then the index entry: a reader never finds a ref without its event.
        batch.command({"HSET", space_index::subjectDataKey(f.subject), "e:" + ref,
                       std::string(rec.bytes), "m:" + ref, std::move(meta),
                       "i:" + std::string(f.event_id), ref});
        batch.command(
            {"ZADD", space_index::subjectIndexKey(f.subject), std::to_string(f.time_us), ref});
        pending.subject = std::string(f.subject);
        pending.seq = rec.seq;
      }
      last_seq = rec.seq;
      ++events;
      // Hard bounds: twice the soft ones (a batch prefers to end on its checkpoint).
      if (events >= 2 * options_.batch_events || batch.bytes() >= 2 * options_.batch_bytes) break;
    }
    if (read_error) {
      metrics::inc(metrics_->errors);
      if (!logged_wait_error) {
        logged_wait_error = true;
        common::log(common::LogLevel::Error, "outbox cannot read the journal's files; retrying",
                    {{"error", error}});
      }
      positioned = false;
      co_await backOff();
      continue;
    }
    logged_wait_error = false;

    if (batch.empty() && last_seq == shippedSeq()) {
      // Nothing committed left to read.
      if (shippedSeq() >= limit) {
        setState(State::CaughtUp);
        waits_while_lagging = 0;
      } else if (++waits_while_lagging >= 3) {
        // The files do not show what the journal committed (a rotation undone, a file being
        // replaced): position again from MANIFEST.
        positioned = false;
        waits_while_lagging = 0;
        continue;
      }
      if (committedSeq() == limit && !stopping_.load()) {
        const auto idle_start = Steady::now();
        co_await idleFor(options_.idle_tick);
        if (Steady::now() - idle_start >= options_.idle_tick && positioned &&
            state() == State::CaughtUp) {
          // Idle: check that Redis still has this node's cursor (FLUSHALL, a failover that lost
          // writes); if not, ship everything again.
          RedisReply r =
              co_await client_->exec(Steady::now() + options_.command_timeout, "GET", cursor_key);
          if (r.ok() &&
              (r.value.isNil() || std::strtoull(r.value.str.c_str(), nullptr, 10) < shippedSeq())) {
            common::log(common::LogLevel::Warn,
                        "outbox cursor in redis went back; shipping again from it",
                        {{"shipped_seq", std::to_string(shippedSeq())},
                         {"redis_cursor", r.value.isNil() ? std::string("absent") : r.value.str}});
            positioned = false;
          }
        }
      }
      continue;
    }
    waits_while_lagging = 0;

    if (!batch.empty()) {
      const std::vector<RedisArgv> argv = batch.argv();
      const std::vector<RedisReply> replies =
          co_await client_->execBatch(argv, Steady::now() + options_.command_timeout);
      const auto bad =
          std::find_if(replies.begin(), replies.end(), [](const RedisReply& r) { return !r.ok(); });
      if (bad != replies.end() || replies.size() != argv.size()) {
        fail("ship batch", bad == replies.end() ? std::string_view("short reply")
                           : bad->errc == adapters::redis::RedisErrc::Ok
                               ? std::string_view(bad->value.str)
                               : adapters::redis::errcName(bad->errc));
        co_await backOff();
        continue;
      }
    }
    const std::string pos_text = std::to_string(last_seq);
    RedisReply set = co_await client_->exec(Steady::now() + options_.command_timeout, "SET",
                                            cursor_key, pos_text);
    if (!set.ok()) {
      fail("SET outbox cursor", set.errc == adapters::redis::RedisErrc::Ok
                                    ? std::string_view(set.value.str)
                                    : adapters::redis::errcName(set.errc));
      co_await backOff();
      continue;
    }
    const std::uint64_t before = shippedSeq();
    shipped_.store(last_seq, std::memory_order_release);
    metrics::inc(metrics_->shipped, static_cast<double>(last_seq - before));
    backoff = options_.retry_initial;
    if (logged_down) {
      logged_down = false;
      common::log(common::LogLevel::Info, "outbox shipping to redis again",
                  {{"shipped_seq", std::to_string(last_seq)},
                   {"committed_seq", std::to_string(committedSeq())}});
    }
    setState(shippedSeq() >= committedSeq() ? State::CaughtUp : State::Lagging);
    // Rate bound: at most max_events_per_second on average.
    const auto cost = std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(
        static_cast<double>(last_seq - before) / options_.max_events_per_second));
    rate_next = std::max(rate_next, Steady::now() - std::chrono::seconds(1)) + cost;
    if (rate_next > Steady::now() && !stopping_.load()) {
      co_await pauseFor(rate_next - Steady::now());
    }
  }
  client_->stop();
}

}  // namespace qaqpa::outbox
