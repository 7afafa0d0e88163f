// In-memory config::Snapshot builder for unit tests: the policy stage and friends are tested
// against hand-built registries, not YAML files. Cross references are resolved the way the loader
// does (pointers into the same Snapshot), so the Snapshot must not be copied after build().
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gateway/config/config.h"

namespace qaqpa::test_support {

class SnapshotBuilder {
 public:
  SnapshotBuilder() : snap_(std::make_shared<config::Snapshot>()) {
    snap_->gateway.node_id = "kz-test-1";
  }

  SnapshotBuilder& demoTrust(bool on) {
    snap_->gateway.demo_trust_client_header = on;
    return *this;
  }

  SnapshotBuilder& system(const std::string& id, config::Zone zone) {
    config::System s;
    s.id = id;
    s.zone = zone;
    s.name = {id + " kk", id + " ru", id + " en"};
    snap_->policy.systems.insert_or_assign(id, std::move(s));
    return *this;
  }

  SnapshotBuilder& purpose(const std::string& code) {
    config::Purpose p;
    p.code = code;
    p.text = {code + " kk", code + " ru", code + " en"};
    snap_->policy.purposes.insert_or_assign(code, std::move(p));
    return *this;
  }

  // `provider` must already be a system.
  SnapshotBuilder& service(const std::string& id, const std::string& provider,
                           std::initializer_list<config::Zone> zones, bool personal_data) {
    config::Service s;
    s.id = id;
    s.provider = snap_->policy.findSystem(provider);
    s.name = {id + " kk", id + " ru", id + " en"};
    s.upstream = {"http", "127.0.0.1", 8180, "/api"};
    s.exposed_zones = zones;
    s.personal_data = personal_data;
    snap_->policy.services.insert_or_assign(id, std::move(s));
    return *this;
  }

  // Every named system, service and purpose must already exist.
  SnapshotBuilder& grant(const std::string& client, std::initializer_list<std::string> services,
                         std::initializer_list<std::string> purposes = {}) {
    config::Grant g;
    g.client = snap_->policy.findSystem(client);
    for (const std::string& s : services) g.services.push_back(snap_->policy.findService(s));
    for (const std::string& p : purposes) g.purposes.push_back(snap_->policy.findPurpose(p));
    g.legal_basis = "test";
    g.source_file = "test.yaml";
    snap_->policy.grants.push_back(std::move(g));
    return *this;
  }

  // Builds the (client, service) index once all grants exist (the vector no longer moves).
  std::shared_ptr<const config::Snapshot> build() {
    auto& policy = snap_->policy;
    policy.grant_index.clear();
    for (const config::Grant& g : policy.grants) {
      for (const config::Service* s : g.services) {
        policy.grant_index[{g.client->id, s->id}].push_back(&g);
      }
    }
    return std::move(snap_);
  }

 private:
  std::shared_ptr<config::Snapshot> snap_;
};

}  // namespace qaqpa::test_support
