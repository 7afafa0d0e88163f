// The Redis keys of the shared state against a real Redis Cluster (issue #6 item 4): three
// redis-server masters in cluster mode, started and joined by the test (CLUSTER ADDSLOTSRANGE +
// CLUSTER MEET, no redis-cli), slots split in three ranges.
//
// What it proves: every command and script a component sends names keys of ONE hash slot (the
// tag of shared_keys.h and friends), so the component works when each entity's commands go to
// the master that owns the entity's slot — a key outside its tag's slot would answer MOVED, a
// script over two slots CROSSSLOT. Entities spread over all three masters (the tags shard). The
// gateway itself talks to one Redis endpoint (hiredis 0.14 has no Cluster client; see
// adapters/redis/README.md): this test is about the key layout a Cluster-aware deployment needs.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "adapters/redis/redis_client.h"
#include "gateway/async/async_keys.h"
#include "gateway/async/message_store.h"
#include "gateway/config/config.h"
#include "gateway/consent/redis_consent_keys.h"
#include "gateway/shared_state/redis_rate_limiter.h"
#include "gateway/shared_state/redis_replay_window.h"
#include "gateway/shared_state/shared_keys.h"
#include "gateway/space_index/redis_index_keys.h"
#include "tests/adapters/redis/redis_server_process.h"

namespace qaqpa {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using adapters::redis::RedisClient;
using adapters::redis::RedisDeadline;
using adapters::redis::RedisReply;
using adapters::redis::RedisSettings;
using adapters::redis::testing::RedisServerProcess;

constexpr int kMasters = 3;
constexpr std::array<std::pair<int, int>, kMasters> kSlotRanges{
    {{0, 5460}, {5461, 10922}, {10923, 16383}}};

RedisDeadline in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

int ownerOfSlot(long long slot) {
  for (int i = 0; i < kMasters; ++i) {
    if (slot >= kSlotRanges[i].first && slot <= kSlotRanges[i].second) return i;
  }
  return -1;
}

// Three cluster-mode masters and one RedisClient per master, all on one io_context run by a
// background thread (the clients' worker). Built once for the whole test program.
class Cluster {
 public:
  // Runs the awaitable f() on the clients' io_context and waits for its result.
  template <class F>
  auto run(F f)
      -> decltype(asio::co_spawn(std::declval<asio::io_context&>(), f(), asio::use_future).get()) {
    return asio::co_spawn(ioc_, f(), asio::use_future).get();
  }

  Cluster() : guard_(asio::make_work_guard(ioc_)) {
    for (int i = 0; i < kMasters; ++i) {
      RedisServerProcess::Options o;
      o.extra_args = {"--cluster-enabled",      "yes",
                      "--cluster-config-file",  "nodes.conf",
                      "--cluster-port",         std::to_string(RedisServerProcess::freePort()),
                      "--cluster-node-timeout", "5000"};
      cluster_ports_.push_back(o.extra_args[5]);
      servers_.push_back(std::make_unique<RedisServerProcess>(o));
    }
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Cluster() {
    for (auto& c : clients_)
      run([&]() -> asio::awaitable<int> {
        c->stop();
        co_return 0;
      });
    guard_.reset();
    clients_.clear();
    ioc_.stop();
    thread_.join();
  }

  // Starts the masters, assigns the slot ranges, joins them; "" or what failed.
  std::string startBlocking() {
    for (auto& s : servers_) {
      if (!s->start()) return "a cluster-mode redis-server did not start";
    }
    for (auto& s : servers_) {
      RedisSettings st;
      st.host = "127.0.0.1";
      st.port = s->port();
      st.connect_timeout = 2000ms;
      std::string error;
      auto c = RedisClient::createBlocking(ioc_.get_executor(), st, nullptr, &error);
      if (!c) return error;
      clients_.push_back(std::move(c));
    }
    for (auto& c : clients_) {
      RedisClient* client = c.get();
      run([client]() -> asio::awaitable<int> {
        client->start();
        co_return co_await client->waitConnected(in(5000ms)) ? 0 : 1;
      });
    }
    for (int i = 0; i < kMasters; ++i) {
      const RedisReply r =
          exec(i, {"CLUSTER", "ADDSLOTSRANGE", std::to_string(kSlotRanges[i].first),
                   std::to_string(kSlotRanges[i].second)});
      if (!r.ok()) return "ADDSLOTSRANGE: " + r.value.str;
    }
    for (int i = 1; i < kMasters; ++i) {
      const RedisReply r = exec(0, {"CLUSTER", "MEET", "127.0.0.1",
                                    std::to_string(servers_[i]->port()), cluster_ports_[i]});
      if (!r.ok()) return "MEET: " + r.value.str;
    }
    // Joined when every master sees the whole cluster as ok (gossip takes a second or two).
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < end) {
      int ok = 0;
      for (int i = 0; i < kMasters; ++i) {
        const RedisReply r = exec(i, {"CLUSTER", "INFO"});
        if (r.ok() && r.value.str.find("cluster_state:ok") != std::string::npos &&
            r.value.str.find("cluster_known_nodes:3") != std::string::npos) {
          ++ok;
        }
      }
      if (ok == kMasters) return "";
      std::this_thread::sleep_for(50ms);
    }
    return "the cluster did not reach cluster_state:ok within 30 s";
  }

  RedisReply exec(int node, std::vector<std::string> argv) {
    RedisClient* c = clients_[node].get();
    return run([c, argv = std::move(argv)]() -> asio::awaitable<RedisReply> {
      std::vector<std::string_view> views(argv.begin(), argv.end());
      co_return co_await c->exec(views, in(2000ms));
    });
  }

  // The slot Redis itself computes for a key (CLUSTER KEYSLOT), not our own CRC16.
  long long slotOf(const std::string& key) {
    const RedisReply r = exec(0, {"CLUSTER", "KEYSLOT", key});
    EXPECT_TRUE(r.ok() && r.value.isInteger()) << key << ": " << r.value.str;
    return r.value.integer;
  }
  int ownerOf(const std::string& key) { return ownerOfSlot(slotOf(key)); }

  RedisClient& client(int node) { return *clients_[node]; }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::unique_ptr<RedisServerProcess>> servers_;
  std::vector<std::string> cluster_ports_;
  std::vector<std::unique_ptr<RedisClient>> clients_;
  std::thread thread_;
};

class RedisClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster();
    setup_error_ = new std::string(cluster_->startBlocking());
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(*setup_error_, "") << "cluster setup failed"; }

  static Cluster* cluster_;
  static std::string* setup_error_;
};
Cluster* RedisClusterTest::cluster_ = nullptr;
std::string* RedisClusterTest::setup_error_ = nullptr;

common::Uuid uuidOf(std::uint32_t n) {
  common::Uuid u;
  u.bytes[6] = 0x70;
  u.bytes[8] = 0x80;
  for (int i = 0; i < 4; ++i) u.bytes[12 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  return u;
}

TEST_F(RedisClusterTest, TheClusterServesAllSlotsOnThreeMasters) {
  for (int i = 0; i < kMasters; ++i) {
    const RedisReply r = cluster_->exec(i, {"CLUSTER", "INFO"});
    ASSERT_TRUE(r.ok());
    EXPECT_NE(r.value.str.find("cluster_slots_assigned:16384"), std::string::npos) << r.value.str;
  }
  // The layout check below is meaningful only if a wrong node refuses: it does.
  const std::string key = "qaqpa:probe";
  const int owner = cluster_->ownerOf(key);
  const RedisReply wrong = cluster_->exec((owner + 1) % kMasters, {"SET", key, "1"});
  ASSERT_EQ(wrong.errc, adapters::redis::RedisErrc::Ok);
  EXPECT_TRUE(wrong.value.isError());
  EXPECT_EQ(wrong.value.str.rfind("MOVED", 0), 0u) << wrong.value.str;
  // And a two-slot command is CROSSSLOT even on the right node.
  std::string other = "qaqpa:probe2";
  for (int n = 0; cluster_->slotOf(other) == cluster_->slotOf(key); ++n) {
    other = "qaqpa:probe" + std::to_string(n);
  }
  const RedisReply cross = cluster_->exec(owner, {"MSET", key, "1", other, "2"});
  EXPECT_TRUE(cross.value.isError());
  EXPECT_EQ(cross.value.str.rfind("CROSSSLOT", 0), 0u) << cross.value.str;
}

// GCRA quotas (gateway/shared_state): one key per grant; the script runs on the key's master.
TEST_F(RedisClusterTest, GrantQuotasShardAndRunOnTheirMaster) {
  std::set<int> owners;
  for (int g = 0; g < 48; ++g) {
    const std::string key = shared_state::grantRateKey("grant-" + std::to_string(g));
    const int owner = cluster_->ownerOf(key);
    ASSERT_GE(owner, 0);
    owners.insert(owner);
    shared_state::RedisRateLimiter limiter(cluster_->client(owner));
    const auto first = cluster_->run([&]() { return limiter.tryAcquire(key, 1.0, 1, in(2000ms)); });
    ASSERT_TRUE(first.ok()) << key << ": " << first.error;
    EXPECT_TRUE(first.allowed);
    const auto second =
        cluster_->run([&]() { return limiter.tryAcquire(key, 1.0, 1, in(2000ms)); });
    ASSERT_TRUE(second.ok()) << second.error;
    EXPECT_FALSE(second.allowed) << "burst 1: the second request within a second is refused";
    // The same script on another master is refused (MOVED): the script's key is what routes it.
    shared_state::RedisRateLimiter elsewhere(cluster_->client((owner + 1) % kMasters));
    const auto moved =
        cluster_->run([&]() { return elsewhere.tryAcquire(key, 1.0, 1, in(2000ms)); });
    EXPECT_FALSE(moved.ok());
    EXPECT_TRUE(moved.error_reply);
  }
  EXPECT_EQ(owners.size(), static_cast<std::size_t>(kMasters)) << "grant keys should shard";
}

// Replay window: one key per (client, message id), tagged by client.
TEST_F(RedisClusterTest, ReplayKeysOfAClientShareItsSlot) {
  std::set<int> owners;
  for (int c = 0; c < 24; ++c) {
    const std::string client = "KZ/GOV/240140000011/system-" + std::to_string(c);
    long long slot = -1;
    for (std::uint32_t m = 0; m < 8; ++m) {
      const long long s = cluster_->slotOf(shared_state::replayKey(client, uuidOf(m)));
      if (slot < 0) slot = s;
      EXPECT_EQ(s, slot) << "every id of one client in one slot";
    }
    const int owner = ownerOfSlot(slot);
    owners.insert(owner);
    shared_state::RedisReplayWindow window(cluster_->client(owner), 60'000ms);
    const common::Uuid id = uuidOf(c);  // the coroutine keeps a reference: not a temporary
    const auto first = cluster_->run([&]() { return window.firstSeen(client, id, in(2000ms)); });
    ASSERT_TRUE(first.ok()) << first.error;
    EXPECT_TRUE(first.first_seen);
    const auto again = cluster_->run([&]() { return window.firstSeen(client, id, in(2000ms)); });
    ASSERT_TRUE(again.ok()) << again.error;
    EXPECT_FALSE(again.first_seen);
  }
  EXPECT_EQ(owners.size(), static_cast<std::size_t>(kMasters));
}

// Asynchronous exchange (gateway/async): a partition's stream, delayed set and messages share the
// tag {async:<p>}; partitions spread over the masters; the real store's submit / lookup / cancel
// scripts run on the partition's master.
TEST_F(RedisClusterTest, AsyncPartitionsShardAndTheirScriptsRunOnTheirMaster) {
  config::AsyncConfig settings;
  settings.partitions = 16;
  std::set<int> owners;
  for (unsigned p = 0; p < settings.partitions; ++p) {
    const long long slot = cluster_->slotOf(async::streamKey(p));
    EXPECT_EQ(cluster_->slotOf(async::delayedKey(p)), slot) << p;
    EXPECT_EQ(cluster_->slotOf(async::messageKey(p, "KZ/GOV/240140000021/tax-service", uuidOf(p))),
              slot)
        << p;
    owners.insert(ownerOfSlot(slot));
  }
  EXPECT_EQ(owners.size(), static_cast<std::size_t>(kMasters)) << "partitions should shard";

  for (std::uint32_t n = 0; n < 24; ++n) {
    async::StoredRequest req;
    req.method = "GET";
    req.service_id = "person.byIin";
    req.client = "KZ/GOV/240140000021/tax-service";
    const common::Uuid id = uuidOf(1000 + n);
    req.message_id = common::toString(id);
    req.correlation_id = req.message_id;
    req.subject = "IIN:900101300017";
    req.purpose = "TAX_ADMINISTRATION";
    req.lang = "kk";
    const unsigned p = async::partitionOf(req.client, id, settings.partitions);
    const int owner = ownerOfSlot(cluster_->slotOf(async::streamKey(p)));
    async::MessageStore store(cluster_->client(owner), settings, 2000ms);
    const auto created = cluster_->run([&]() { return store.submit(req, "{}"); });
    ASSERT_EQ(created.outcome, async::SubmitOutcome::Created) << "partition " << p;
    const auto again = cluster_->run([&]() { return store.submit(req, "{}"); });
    EXPECT_EQ(again.outcome, async::SubmitOutcome::Exists);
    const auto seen = cluster_->run([&]() { return store.lookup(req.client, id); });
    ASSERT_TRUE(seen.ok);
    ASSERT_TRUE(seen.found.has_value());
    EXPECT_EQ(seen.found->state, "QUEUED");
    const auto stopped = cluster_->run([&]() { return store.cancel(req.client, id); });
    EXPECT_EQ(stopped.outcome, async::CancelOutcome::Stopped);
    // The same store on a master that does not own the partition gets no answer it could trust.
    async::MessageStore elsewhere(cluster_->client((owner + 1) % kMasters), settings, 2000ms);
    const auto refused = cluster_->run([&]() { return elsewhere.lookup(req.client, id); });
    EXPECT_FALSE(refused.ok && refused.found.has_value()) << "MOVED must not read as a message";
  }
}

// Consents (gateway/consent): the grant and revoke scripts touch a consent and its subject's two
// indexes — one slot per citizen; the id → subject key is used alone.
TEST_F(RedisClusterTest, ConsentKeysOfACitizenShareItsSlot) {
  std::set<int> owners;
  for (int c = 0; c < 24; ++c) {
    const std::string iin = std::to_string(900101300000LL + c * 101);
    const std::string id = common::toString(uuidOf(2000 + c));
    const long long slot = cluster_->slotOf(consent::consentKey(iin, id));
    EXPECT_EQ(cluster_->slotOf(consent::subjectConsentsKey(iin)), slot);
    EXPECT_EQ(cluster_->slotOf(consent::subjectActiveKey(iin)), slot);
    owners.insert(ownerOfSlot(slot));
    // A real multi-key write of the script's shape succeeds on the owner (no CROSSSLOT).
    const RedisReply r = cluster_->exec(
        ownerOfSlot(slot), {"EVAL",
                            "redis.call('HSET', KEYS[1], 'id', ARGV[1]); "
                            "redis.call('ZADD', KEYS[2], 1, ARGV[1]); "
                            "return redis.call('ZADD', KEYS[3], 1, ARGV[1])",
                            "3", consent::consentKey(iin, id), consent::subjectConsentsKey(iin),
                            consent::subjectActiveKey(iin), id});
    EXPECT_TRUE(r.ok()) << r.value.str;
  }
  EXPECT_EQ(owners.size(), static_cast<std::size_t>(kMasters));
}

// The shared digital-space index (gateway/space_index + gateway/outbox): a citizen's sorted set
// and hash share {subj:<S>}; a node's checkpoint keys share {ckpt:<node>}.
TEST_F(RedisClusterTest, SpaceIndexKeysShareTheirTagSlot) {
  std::set<int> owners;
  for (int c = 0; c < 24; ++c) {
    const std::string subject = "IIN:" + std::to_string(900101300000LL + c * 37);
    const long long slot = cluster_->slotOf(space_index::subjectIndexKey(subject));
    EXPECT_EQ(cluster_->slotOf(space_index::subjectDataKey(subject)), slot) << subject;
    owners.insert(ownerOfSlot(slot));
    const std::string ref = space_index::eventRef("node-a", 7);
    const RedisReply r = cluster_->exec(
        ownerOfSlot(slot),
        {"EVAL",
         "redis.call('ZADD', KEYS[1], 1, ARGV[1]); return redis.call('HSET', KEYS[2], 'e:' .. "
         "ARGV[1], 'x')",
         "2", space_index::subjectIndexKey(subject), space_index::subjectDataKey(subject), ref});
    EXPECT_TRUE(r.ok()) << r.value.str;
  }
  EXPECT_EQ(owners.size(), static_cast<std::size_t>(kMasters));
  for (const char* node : {"kz-qaqpa-1", "kz-qaqpa-2", "kz-qaqpa-3"}) {
    EXPECT_EQ(cluster_->slotOf(space_index::checkpointIndexKey(node)),
              cluster_->slotOf(space_index::checkpointDataKey(node)))
        << node;
  }
}

}  // namespace
}  // namespace qaqpa
