// RedisConsentStore against a real redis-server (issue #6): two "replicas" — each its own
// io_context, RedisClient and store, as two gateway processes have — see each other's grants and
// revocations at once (no cache), the per-subject limit holds when both grant concurrently, and a
// Redis outage answers Unavailable / StorageFailed, never a stale answer.

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "adapters/redis/redis_client.h"
#include "gateway/consent/redis_consent_keys.h"
#include "gateway/consent/redis_consent_store.h"
#include "gateway/shared_state/shared_keys.h"
#include "tests/adapters/redis/redis_server_process.h"
#include "tests/consent/manual_time_source.h"
#include "tests/consent/test_values.h"

namespace qaqpa::consent {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace test_values;
using adapters::redis::RedisClient;
using adapters::redis::testing::RedisServerProcess;
using Steady = std::chrono::steady_clock;

template <class T>
T runOn(asio::io_context& ioc, asio::awaitable<T> body) {
  auto fut = asio::co_spawn(ioc, std::move(body), asio::use_future);
  ioc.restart();
  const auto end = Steady::now() + 30s;
  while (fut.wait_for(0s) != std::future_status::ready && Steady::now() < end) {
    ioc.run_one_for(50ms);
  }
  if (fut.wait_for(0s) != std::future_status::ready) {
    ADD_FAILURE() << "awaitable did not finish";
    std::abort();  // the frame still references the test's objects
  }
  return fut.get();
}

struct Replica {
  Replica(const RedisServerProcess& server, const common::TimeSource& time,
          RedisConsentStoreOptions options = {}) {
    adapters::redis::RedisSettings s;
    s.host = "127.0.0.1";
    s.port = server.port();
    s.connect_timeout = 2000ms;
    s.reconnect_backoff_initial = 10ms;
    s.reconnect_backoff_max = 50ms;
    std::string error;
    client = RedisClient::createBlocking(ioc.get_executor(), s, nullptr, &error);
    EXPECT_TRUE(client) << error;
    client->start();
    options.timeout = 2000ms;  // a loaded test machine; outages are kills, answered at once
    store = std::make_unique<RedisConsentStore>(time, options);
    store->addClient(ioc, *client);
  }
  ~Replica() {
    store.reset();
    client.reset();
    ioc.restart();
    ioc.poll();
  }
  bool waitConnected() { return runOn(ioc, client->waitConnected(Steady::now() + 5s)); }

  template <class T>
  T run(asio::awaitable<T> a) {
    return runOn(ioc, std::move(a));
  }
  ConsentCheck check(const std::string& id, const common::SubjectId& subject,
                     const std::string& client_id, const std::string& service,
                     const std::string& purpose, Clock::time_point now) {
    return run(store->check(id, subject, client_id, service, purpose, now));
  }

  asio::io_context ioc;
  std::unique_ptr<RedisClient> client;
  std::unique_ptr<RedisConsentStore> store;
};

class RedisConsentStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  void SetUp() override {
    ASSERT_TRUE(server_.start());
    a_ = std::make_unique<Replica>(server_, time_);
    b_ = std::make_unique<Replica>(server_, time_);
    ASSERT_TRUE(a_->waitConnected());
    ASSERT_TRUE(b_->waitConnected());
  }
  Clock::time_point inDays(int days) const { return time_.now() + std::chrono::days(days); }

  RedisServerProcess server_;
  test_support::ManualTimeSource time_;
  std::unique_ptr<Replica> a_;
  std::unique_ptr<Replica> b_;
};

TEST_F(RedisConsentStoreTest, AGrantOnOneReplicaIsSeenByTheOther) {
  const GrantResult g = a_->run(a_->store->grant(request(kAlice, inDays(30))));
  ASSERT_EQ(g.status, GrantStatus::Granted);
  ASSERT_TRUE(g.consent);
  const Consent& c = *g.consent;
  EXPECT_TRUE(common::parseUuid(c.id));
  EXPECT_EQ(c.granted_at, time_.now());
  EXPECT_EQ(c.expires, inDays(30));
  EXPECT_EQ(c.granted_by, "citizen");
  EXPECT_FALSE(c.revoked_at);

  const ConsentLookup found = b_->run(b_->store->find(c.id));
  ASSERT_TRUE(found.available);
  EXPECT_EQ(found.consent, c);
  const ConsentList listed = b_->run(b_->store->listBySubject(kAlice));
  ASSERT_TRUE(listed.available);
  EXPECT_EQ(listed.consents, std::vector<Consent>{c});
  EXPECT_TRUE(b_->run(b_->store->listBySubject(kBob)).consents.empty());

  const auto now = time_.now();
  EXPECT_EQ(b_->check(c.id, kAlice, kClient, "person.address", "TAX_AUDIT", now),
            ConsentCheck::Active);
  // Someone else's consent id is not under this subject: nothing about it is revealed.
  EXPECT_EQ(b_->check(c.id, kBob, kClient, "person.byIin", "TAX_AUDIT", now),
            ConsentCheck::NotFound);
  EXPECT_EQ(b_->check(c.id, kAlice, kOtherClient, "person.byIin", "TAX_AUDIT", now),
            ConsentCheck::ClientMismatch);
  EXPECT_EQ(b_->check(c.id, kAlice, kClient, "person.family", "TAX_AUDIT", now),
            ConsentCheck::ServiceNotCovered);
  EXPECT_EQ(b_->check(c.id, kAlice, kClient, "person.byIin", "LOAN_SCORING", now),
            ConsentCheck::PurposeMismatch);
  EXPECT_EQ(b_->check(c.id, kAlice, kClient, "person.byIin", "TAX_AUDIT", inDays(30)),
            ConsentCheck::Expired);
  EXPECT_EQ(b_->check("01890a5d-ac96-774b-bcce-b302099a8057", kAlice, kClient, "person.byIin",
                      "TAX_AUDIT", now),
            ConsentCheck::NotFound);
  // Not canonical UUID text: never reaches a key.
  EXPECT_EQ(b_->check("{x}", kAlice, kClient, "person.byIin", "TAX_AUDIT", now),
            ConsentCheck::NotFound);
  EXPECT_FALSE(b_->run(b_->store->find("not-an-id")).consent);
}

TEST_F(RedisConsentStoreTest, ARevocationOnOneReplicaStopsTheNextCheckOnTheOther) {
  const GrantResult g = a_->run(a_->store->grant(request(kAlice, inDays(30))));
  ASSERT_EQ(g.status, GrantStatus::Granted);
  const std::string id = g.consent->id;
  const auto now = time_.now();
  // A checks once (an implementation with a cache would now hold it).
  ASSERT_EQ(a_->check(id, kAlice, kClient, "person.byIin", "TAX_AUDIT", now), ConsentCheck::Active);
  time_.advance(5s);
  const RevokeResult r = b_->run(b_->store->revoke(id, kAlice));
  ASSERT_EQ(r.status, RevokeStatus::Revoked);
  ASSERT_TRUE(r.consent);
  EXPECT_EQ(r.consent->revoked_at, time_.now());
  EXPECT_EQ(a_->check(id, kAlice, kClient, "person.byIin", "TAX_AUDIT", now),
            ConsentCheck::Revoked);
  EXPECT_EQ(a_->run(a_->store->find(id)).consent->revoked_at, time_.now());

  EXPECT_EQ(a_->run(a_->store->revoke(id, kAlice)).status, RevokeStatus::AlreadyRevoked);
  EXPECT_EQ(a_->run(a_->store->revoke(id, kBob)).status, RevokeStatus::NotOwner);
  EXPECT_EQ(a_->run(a_->store->revoke("01890a5d-ac96-774b-bcce-b302099a8057", kAlice)).status,
            RevokeStatus::NotFound);
}

TEST_F(RedisConsentStoreTest, ListIsNewestFirstAndInvalidRequestsWriteNothing) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const GrantResult g = a_->run(a_->store->grant(request(kAlice, inDays(10 + i))));
    ASSERT_EQ(g.status, GrantStatus::Granted);
    ids.push_back(g.consent->id);
    time_.advance(1s);
  }
  const ConsentList list = b_->run(b_->store->listBySubject(kAlice));
  ASSERT_EQ(list.consents.size(), 3u);
  EXPECT_EQ(list.consents[0].id, ids[2]);
  EXPECT_EQ(list.consents[2].id, ids[0]);

  ConsentRequest bad = request(kBob, inDays(1));
  bad.services.clear();
  EXPECT_EQ(a_->run(a_->store->grant(bad)).status, GrantStatus::InvalidServices);
  EXPECT_EQ(a_->run(a_->store->grant(request(kBob, time_.now()))).status,
            GrantStatus::InvalidExpires);
  EXPECT_TRUE(a_->run(a_->store->listBySubject(kBob)).consents.empty());
}

TEST_F(RedisConsentStoreTest, KeysOfOneCitizenShareOneClusterSlot) {
  const GrantResult g = a_->run(a_->store->grant(request(kAlice, inDays(30))));
  ASSERT_EQ(g.status, GrantStatus::Granted);
  const std::string tag = "subj:" + kAlice.digits;
  for (const std::string& key :
       {consentKey(kAlice.digits, g.consent->id), subjectConsentsKey(kAlice.digits),
        subjectActiveKey(kAlice.digits)}) {
    EXPECT_EQ(shared_state::clusterHashTag(key), tag) << key;
    const auto r = a_->run(a_->client->exec(Steady::now() + 5s, "EXISTS", key));
    EXPECT_EQ(r.value.integer, 1) << key;
  }
  const std::string by_id = consentSubjectKey(g.consent->id);
  EXPECT_EQ(shared_state::clusterHashTag(by_id), "consent:" + g.consent->id);
  const auto owner = a_->run(a_->client->exec(Steady::now() + 5s, "GET", by_id));
  EXPECT_EQ(owner.value.str, kAlice.digits);
}

TEST_F(RedisConsentStoreTest, TheActiveLimitHoldsWhenTwoReplicasGrantAtOnce) {
  constexpr std::size_t kLimit = 5;
  constexpr int kPerReplica = 12;
  RedisConsentStoreOptions options;
  options.max_active_per_subject = kLimit;
  Replica a(server_, time_, options);
  Replica b(server_, time_, options);
  ASSERT_TRUE(a.waitConnected());
  ASSERT_TRUE(b.waitConnected());
  std::atomic<int> granted{0};
  std::atomic<int> limited{0};
  std::atomic<int> other{0};
  auto burst = [&](Replica& r) {
    std::vector<std::future<GrantStatus>> calls;
    for (int i = 0; i < kPerReplica; ++i) {
      calls.push_back(asio::co_spawn(
          r.ioc,
          [&r, this]() -> asio::awaitable<GrantStatus> {
            co_return (co_await r.store->grant(request(kAlice, inDays(30)))).status;
          },
          asio::use_future));
    }
    r.ioc.restart();
    const auto end = Steady::now() + 30s;
    for (auto& f : calls) {
      while (f.wait_for(0s) != std::future_status::ready && Steady::now() < end) {
        r.ioc.run_one_for(50ms);
      }
      const GrantStatus s = f.get();
      if (s == GrantStatus::Granted) {
        granted.fetch_add(1);
      } else if (s == GrantStatus::LimitReached) {
        limited.fetch_add(1);
      } else {
        other.fetch_add(1);
      }
    }
  };
  std::thread ta([&] { burst(a); });
  std::thread tb([&] { burst(b); });
  ta.join();
  tb.join();
  EXPECT_EQ(granted.load(), static_cast<int>(kLimit));
  EXPECT_EQ(limited.load(), 2 * kPerReplica - static_cast<int>(kLimit));
  EXPECT_EQ(other.load(), 0);
  // Revoking one frees one place; an expired one frees its place too.
  const ConsentList list = a.run(a.store->listBySubject(kAlice));
  ASSERT_EQ(list.consents.size(), kLimit);
  ASSERT_EQ(a.run(a.store->revoke(list.consents[0].id, kAlice)).status, RevokeStatus::Revoked);
  EXPECT_EQ(b.run(b.store->grant(request(kAlice, inDays(1)))).status, GrantStatus::Granted);
  EXPECT_EQ(b.run(b.store->grant(request(kAlice, inDays(1)))).status, GrantStatus::LimitReached);
  time_.advance(std::chrono::days(2));
  EXPECT_EQ(a.run(a.store->grant(request(kAlice, inDays(1)))).status, GrantStatus::Granted);
}

TEST_F(RedisConsentStoreTest, RedisDownIsUnavailableNeverAStaleAnswer) {
  const GrantResult g = a_->run(a_->store->grant(request(kAlice, inDays(30))));
  ASSERT_EQ(g.status, GrantStatus::Granted);
  const std::string id = g.consent->id;
  const auto now = time_.now();
  ASSERT_EQ(a_->check(id, kAlice, kClient, "person.byIin", "TAX_AUDIT", now), ConsentCheck::Active);
  server_.kill();
  EXPECT_EQ(a_->check(id, kAlice, kClient, "person.byIin", "TAX_AUDIT", now),
            ConsentCheck::Unavailable);
  EXPECT_FALSE(a_->run(a_->store->listBySubject(kAlice)).available);
  EXPECT_FALSE(a_->run(a_->store->find(id)).available);
  EXPECT_EQ(a_->run(a_->store->grant(request(kAlice, inDays(30)))).status,
            GrantStatus::StorageFailed);
  EXPECT_EQ(a_->run(a_->store->revoke(id, kAlice)).status, RevokeStatus::StorageFailed);
  // Back (this test server keeps nothing on disk: the consent is gone, and says so).
  ASSERT_TRUE(server_.start());
  ASSERT_TRUE(a_->waitConnected());
  EXPECT_EQ(a_->check(id, kAlice, kClient, "person.byIin", "TAX_AUDIT", now),
            ConsentCheck::NotFound);
  EXPECT_EQ(a_->run(a_->store->grant(request(kAlice, inDays(30)))).status, GrantStatus::Granted);
}

TEST_F(RedisConsentStoreTest, AnExecutorWithoutAClientIsUnavailable) {
  asio::io_context stranger;
  EXPECT_EQ(runOn(stranger, a_->store->check("01890a5d-ac96-774b-bcce-b302099a8057", kAlice,
                                             kClient, "person.byIin", "TAX_AUDIT", time_.now())),
            ConsentCheck::Unavailable);
}

TEST_F(RedisConsentStoreTest, MalformedStoredDataReadsAsAbsent) {
  const std::string id = "01890a5d-ac96-774b-bcce-b302099a8057";
  const std::string key = consentKey(kAlice.digits, id);
  ASSERT_TRUE(
      a_->run(a_->client->exec(Steady::now() + 5s, "HSET", key, "id", id, "expires", "x")).ok());
  EXPECT_EQ(a_->check(id, kAlice, kClient, "person.byIin", "TAX_AUDIT", time_.now()),
            ConsentCheck::NotFound);
}

}  // namespace
}  // namespace qaqpa::consent
