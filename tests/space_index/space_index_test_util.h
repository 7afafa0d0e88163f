// Helpers for the space-index tests: events about a subject as a worker would encode them, UUID
// event ids, and synthetic EventRefs for the in-memory tests.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "gateway/space_index/event_index.h"
#include "qaqpa/journal/v1/journal.pb.h"
#include "tests/journal/journal_test_util.h"

namespace qaqpa::space_index::test {

namespace pb = qaqpa::journal::v1;

inline constexpr std::string_view kA = "IIN:900101300123";
inline constexpr std::string_view kB = "IIN:850202400456";
inline constexpr std::string_view kCompany = "BIN:123456789012";
inline constexpr std::int64_t kT0 = 1704067200;  // 2024-01-01T00:00:00Z

// A canonical lower-case UUID text whose bytes encode n (unique per n).
inline std::string uuidFor(std::uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "0190a000-0000-7000-8000-%012llx",
                static_cast<unsigned long long>(n));
  return buf;
}

struct EventSpec {
  std::string event_id;
  std::string subject;  // "" = none
  pb::Kind kind = pb::DATA_ACCESS;
  std::string service = "population.person";
  std::string client = "KZ/GOV/123456789012/registry";
  std::int64_t time_s = kT0;
  std::int32_t nanos = 0;
};

inline pb::DigitalEvent toProto(const EventSpec& s) {
  pb::DigitalEvent ev;
  ev.set_event_id(s.event_id);
  ev.set_node_id("kz-test-1");
  ev.mutable_time()->set_seconds(s.time_s);
  ev.mutable_time()->set_nanos(s.nanos);
  ev.set_zone(pb::STATE);
  ev.set_kind(s.kind);
  ev.mutable_client()->set_id(s.client);
  ev.mutable_client()->mutable_name()->set_kk("Тіркелім");
  ev.mutable_provider()->set_id("KZ/GOV/210987654321/population");
  ev.mutable_service()->set_id(s.service);
  ev.mutable_service()->mutable_name()->set_en("Person data");
  ev.set_subject(s.subject);
  ev.set_status("OK");
  ev.set_http_status(200);
  return ev;
}

// Canonical bytes without the chain fields, as Journal::append wants them.
inline std::string eventBytes(const EventSpec& s) {
  return journal::test::deterministic(toProto(s));
}

// A synthetic ref for the in-memory tests (location = seq-derived, never read).
inline EventRef ref(std::uint64_t seq, const std::string& id, std::int64_t time_s = kT0,
                    int kind = pb::DATA_ACCESS, std::string_view service = "population.person",
                    std::string_view client = "KZ/GOV/123456789012/registry") {
  EventRef r;
  r.seq = seq;
  r.time_us = time_s * 1000000;
  r.kind = kind;
  r.event_id = id;
  r.service_id = service;
  r.client_id = client;
  r.where = EventLocation{1, 1, 8 + seq * 100, 100};
  return r;
}

}  // namespace qaqpa::space_index::test
