// The `space` listener (PROTOCOL.md §7, docs/space.md): the citizen's digital-space API, the
// demo login, and the citizen's page (static files from space.web_root).
//
// Flow of one request: static page / demo login (no token) → Bearer token verified
// (gateway/space/jwt.h; the token's `sub` is the only subject this request can see) → route:
// events (index page → events read back from the journal's files on the read pool → JSON), one
// event with its proof, CSV, consents (store + a CONSENT_* digital event journaled through the
// worker), consent options. The worker signs whatever this returns.
//
// Threading: handleSpace runs on a worker. It never does file I/O there: journal files are read
// on SpaceState::reads (bounded by kMaxReadsInFlight; beyond it 503 OVERLOADED), the static
// files were read into memory at start. SpaceState is shared by all workers: the registry, demo
// provider and site are immutable; the index is thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "gateway/pipeline/exchange.h"
#include "gateway/space_index/memory_event_index.h"
#include "gateway/space_index/redis_event_index.h"

namespace qaqpa::config {
struct Snapshot;
}
namespace qaqpa::consent {
class ConsentStore;
struct Consent;
}  // namespace qaqpa::consent
namespace qaqpa::space {
class IdentityProviderRegistry;
class DemoIdentityProvider;
}  // namespace qaqpa::space

namespace qaqpa::server {

// The citizen's page: every regular file under web_root (hidden files and *.md skipped), read
// once at start. Requests never touch the file system, so no path can escape the root.
class StaticSite {
 public:
  struct File {
    std::string content_type;
    std::string body;
    std::string etag;  // "\"<sha-256 prefix>\""
  };
  static constexpr std::size_t kMaxFiles = 256;
  static constexpr std::size_t kMaxTotalBytes = 8u << 20;

  // Null with `error` when the directory cannot be read, has no index.html, or is over a bound.
  static std::shared_ptr<const StaticSite> loadBlocking(const std::string& root,
                                                        std::string& error);
  // `rel` as in the URL after "/space/" ("" = index.html); null when absent.
  const File* find(std::string_view rel) const;
  std::size_t size() const { return files_.size(); }

 private:
  std::map<std::string, File, std::less<>> files_;
};

struct SpaceState {
  std::shared_ptr<const space::IdentityProviderRegistry> registry;  // never null once bound
  std::shared_ptr<const space::DemoIdentityProvider> demo;          // null outside demo mode
  std::vector<std::string> demo_citizens;                // "IIN:…"; empty = any valid IIN
  std::unique_ptr<space_index::MemoryEventIndex> index;  // null when the journal is off
  // redis.space_index: the event routes read every replica's events from Redis through the
  // worker's SpaceHost::sharedEvents() (then `index` is null and unused).
  bool shared_index = false;
  space_index::JournalFiles files;
  std::shared_ptr<const StaticSite> site;  // null: no page configured
  // Blocking reads of the journal's files (and the index rebuild at start).
  boost::asio::thread_pool reads{2};
  std::atomic<unsigned> reads_in_flight{0};
  static constexpr unsigned kMaxReadsInFlight = 64;
  ~SpaceState() { reads.join(); }
};

// What a worker lends the space routes.
class SpaceHost {
 public:
  virtual ~SpaceHost() = default;
  virtual std::shared_ptr<const config::Snapshot> currentSnapshot() = 0;
  virtual consent::ConsentStore* consentStore() = 0;
  // Journals the CONSENT_GRANTED / CONSENT_REVOKED event of a change already durable in the
  // store; `actor` is the citizen's "IIN:…" (zone SPACE) or "admin:<name>" (zone ADMIN).
  // `event_id` receives the event's id (empty when the journal is off). True once durable
  // (true at once when the journal is off).
  virtual boost::asio::awaitable<bool> journalConsentChange(const consent::Consent& c, bool granted,
                                                            std::string_view actor,
                                                            std::string& event_id) = 0;
  virtual std::string newId() = 0;  // UUIDv7 text (message ids)
  // This worker's view of the shared event index (redis.space_index); null when not configured.
  virtual space_index::SharedEventSource* sharedEvents() { return nullptr; }
};

// The whole space listener. Never throws for bad input (every refusal is a problem response);
// a bug's exception propagates to the worker, which answers 500.
boost::asio::awaitable<pipeline::Response> handleSpace(SpaceState& state, SpaceHost& host,
                                                       const pipeline::Request& req);

}  // namespace qaqpa::server
