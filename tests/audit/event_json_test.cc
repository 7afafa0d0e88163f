#include "gateway/audit/event_json.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace qaqpa::audit {
namespace {

namespace v1 = qaqpa::journal::v1;

TEST(EventJson, FullEventGolden) {
  v1::DigitalEvent e;
  e.set_event_id("0193a0b0-7c1e-7000-8000-00000000002a");
  e.set_node_id("node-a");
  e.mutable_time()->set_seconds(1795000000);  // 2026-11-18T11:06:40Z
  e.mutable_time()->set_nanos(250001999);
  e.set_zone(v1::STATE);
  e.set_kind(v1::DATA_ACCESS);
  e.mutable_client()->set_id("KZ/GOV/MOJ/CASES");
  e.mutable_client()->mutable_name()->set_kk("Істер");
  e.mutable_client()->mutable_name()->set_ru("Дела");
  e.mutable_client()->mutable_name()->set_en("Cases");
  e.mutable_provider()->set_id("KZ/GOV/MVD/POP");
  e.mutable_service()->set_id("population.person");
  e.mutable_service()->mutable_name()->set_en("Person");
  e.set_subject("IIN:900101300017");
  e.set_actor("IIN:850505400123");
  e.mutable_purpose()->set_code("court.case");
  e.mutable_purpose()->mutable_text()->set_ru("Судебное дело");
  e.set_consent_id("c-1");
  e.set_message_id("m-1");
  e.set_correlation_id("k-1");
  e.set_status("OK");
  e.set_http_status(200);
  e.set_latency_us(1234);
  e.set_request_digest("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
  e.add_data_categories("identity");
  e.add_data_categories("address");
  e.set_country("UZ");
  e.set_reason("r");
  e.set_operator_reason("court order 12");
  e.set_detail("subject=IIN:900101300017");
  e.set_seq(42);
  e.set_prev_hash(std::string(32, '\0'));
  e.set_hash(std::string(32, '\xff'));
  EXPECT_EQ(
      boost::json::serialize(eventToJson(e)),
      R"({"eventId":"0193a0b0-7c1e-7000-8000-00000000002a","nodeId":"node-a","seq":42,)"
      R"("time":"2026-11-18T11:06:40.250001Z","zone":"STATE","kind":"DATA_ACCESS",)"
      R"("client":{"id":"KZ/GOV/MOJ/CASES","name":{"kk":"Істер","ru":"Дела","en":"Cases"}},)"
      R"("provider":{"id":"KZ/GOV/MVD/POP"},"service":{"id":"population.person","name":{"en":"Person"}},)"
      R"("subject":"IIN:900101300017","actor":"IIN:850505400123",)"
      R"("purpose":{"code":"court.case","text":{"ru":"Судебное дело"}},"consentId":"c-1",)"
      R"("messageId":"m-1","correlationId":"k-1","status":"OK","httpStatus":200,"latencyUs":1234,)"
      R"("requestDigest":"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",)"
      R"("dataCategories":["identity","address"],"country":"UZ","reason":"r",)"
      R"("operatorReason":"court order 12","detail":"subject=IIN:900101300017",)"
      R"("prevHash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",)"
      R"("hash":"//////////////////////////////////////////8="})");
}

TEST(EventJson, EmptyFieldsAreOmitted) {
  v1::DigitalEvent e;
  e.set_seq(1);
  e.mutable_client();  // present but empty: omitted
  e.mutable_time();    // the epoch: treated as unset
  EXPECT_EQ(boost::json::serialize(eventToJson(e)), R"({"seq":1})");
}

TEST(EventJson, UnknownEnumValueIsItsNumber) {
  v1::DigitalEvent e;
  e.set_kind(static_cast<v1::Kind>(42));
  EXPECT_EQ(boost::json::serialize(eventToJson(e)), R"({"kind":42})");
}

TEST(EventJson, TimeHasAlwaysSixFractionalDigits) {
  EXPECT_EQ(formatTime(0, 0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(formatTime(1795000000, 999999999), "2026-11-18T11:06:40.999999Z");
}

TEST(EventJson, Checkpoint) {
  v1::Checkpoint c;
  c.set_node_id("node-a");
  c.set_first_seq(4);
  c.set_last_seq(6);
  c.set_chain_head(std::string(32, '\0'));
  c.mutable_time()->set_seconds(1795000000);
  c.set_key_id("gw-1");
  c.set_algorithm("ed25519");
  c.set_signature("ab");
  EXPECT_EQ(boost::json::serialize(checkpointToJson(c)),
            R"({"nodeId":"node-a","firstSeq":4,"lastSeq":6,)"
            R"("chainHead":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",)"
            R"("time":"2026-11-18T11:06:40.000000Z","keyId":"gw-1","algorithm":"ed25519",)"
            R"("signature":"YWI="})");
}

}  // namespace
}  // namespace qaqpa::audit
