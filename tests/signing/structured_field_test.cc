#include "gateway/signing/structured_field.h"

#include <string>

#include <gtest/gtest.h>

#include "tests/signing/vectors.h"

namespace qaqpa::signing::sf {
namespace {

using test::str;
using test::vectors;

TEST(StructuredField, VectorsFromPython) {
  int count = 0;
  for (const auto& v : vectors().at("sf_cases").as_array()) {
    const auto& c = v.as_object();
    const std::string input = str(c.at("input"));
    const DictionaryParse parsed = parseDictionary(input);
    SCOPED_TRACE("input: " + input);
    if (c.at("canonical").is_null()) {
      EXPECT_FALSE(parsed.ok());
      EXPECT_TRUE(parsed.dict.members.empty());
    } else {
      ASSERT_TRUE(parsed.ok()) << parseErrorName(parsed.error) << " at " << parsed.offset;
      const std::string canonical = str(c.at("canonical"));
      EXPECT_EQ(serializeDictionary(parsed.dict), canonical);
      // Canonical output parses back to the same structure.
      const DictionaryParse again = parseDictionary(canonical);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(again.dict, parsed.dict);
    }
    ++count;
  }
  EXPECT_GE(count, 40);
}

TEST(StructuredField, ParsesSignatureInputShape) {
  const auto p = parseDictionary(
      R"(sig1=("@method" "content-digest");created=1618884473;keyid="k\"1";alg="ed25519")");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p.dict.members.size(), 1u);
  const Member& m = p.dict.members[0];
  EXPECT_EQ(m.key, "sig1");
  ASSERT_TRUE(m.is_inner_list);
  ASSERT_EQ(m.list.items.size(), 2u);
  EXPECT_EQ(m.list.items[0].value.kind, BareKind::String);
  EXPECT_EQ(m.list.items[1].value.text, "content-digest");
  const BareItem* created = findParameter(m.list.params, "created");
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->kind, BareKind::Integer);
  EXPECT_EQ(created->integer, 1618884473);
  ASSERT_NE(findParameter(m.list.params, "keyid"), nullptr);
  EXPECT_EQ(findParameter(m.list.params, "keyid")->text, "k\"1");
  EXPECT_EQ(findParameter(m.list.params, "nonce"), nullptr);
  EXPECT_EQ(serializeInnerList(m.list),
            R"(("@method" "content-digest");created=1618884473;keyid="k\"1";alg="ed25519")");
}

TEST(StructuredField, ReportsPreciseErrors) {
  EXPECT_EQ(parseDictionary("a=1, a=2").error, ParseError::DuplicateKey);
  EXPECT_EQ(parseDictionary("a;x;x").error, ParseError::DuplicateParameter);
  EXPECT_EQ(parseDictionary("a=1,").error, ParseError::TrailingComma);
  EXPECT_EQ(parseDictionary("a=1 b").error, ParseError::ExpectedComma);
  EXPECT_EQ(parseDictionary("A").error, ParseError::BadKey);
  EXPECT_EQ(parseDictionary("a=1.5").error, ParseError::UnsupportedType);
  EXPECT_EQ(parseDictionary("a=@1").error, ParseError::UnsupportedType);
  EXPECT_EQ(parseDictionary("a=#").error, ParseError::BadItem);
  EXPECT_EQ(parseDictionary("a=\"x").error, ParseError::BadString);
  EXPECT_EQ(parseDictionary("a=:x:").error, ParseError::BadByteSequence);
  EXPECT_EQ(parseDictionary("a=?x").error, ParseError::BadBoolean);
  EXPECT_EQ(parseDictionary("a=(1 2").error, ParseError::BadInnerList);
  EXPECT_EQ(parseDictionary("a=1234567890123456").error, ParseError::BadInteger);
  const auto p = parseDictionary("abc=\"\x01\"");
  EXPECT_EQ(p.error, ParseError::BadString);
  EXPECT_EQ(p.offset, 5u);
}

TEST(StructuredField, EnforcesBounds) {
  std::string members;
  for (int i = 0; i < 64; ++i) members += (i ? ", m" : "m") + std::to_string(i);
  EXPECT_TRUE(parseDictionary(members).ok());
  EXPECT_EQ(parseDictionary(members + ", m64").error, ParseError::TooManyMembers);

  std::string items = "a=(";
  for (int i = 0; i < 64; ++i) items += "1 ";
  EXPECT_TRUE(parseDictionary(items + ")").ok());
  EXPECT_EQ(parseDictionary(items + "1)").error, ParseError::TooManyItems);

  std::string params = "a";
  for (int i = 0; i < 64; ++i) params += ";p" + std::to_string(i);
  EXPECT_TRUE(parseDictionary(params).ok());
  EXPECT_EQ(parseDictionary(params + ";p64").error, ParseError::TooManyParameters);

  const std::string at_limit = "a=\"" + std::string(kMaxInputBytes - 4, 'x') + "\"";
  EXPECT_TRUE(parseDictionary(at_limit).ok());
  EXPECT_EQ(parseDictionary(at_limit + " ").error, ParseError::TooLong);
}

TEST(StructuredField, IntegersAtTheLimits) {
  const auto p = parseDictionary("a=999999999999999, b=-999999999999999");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.dict.members[0].item.value.integer, 999999999999999);
  EXPECT_EQ(p.dict.members[1].item.value.integer, -999999999999999);
}

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    const std::string enc = base64Encode(bytes);
    EXPECT_EQ(enc.size() % 4, 0u);
    const auto dec = base64Decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, bytes);
    bytes.push_back(static_cast<char>(n * 37 + 200));
  }
}

TEST(Base64, DecoderIsStrict) {
  EXPECT_EQ(base64Decode("aGVsbG8="), "hello");
  EXPECT_FALSE(base64Decode("aGVsbG8"));       // no padding
  EXPECT_FALSE(base64Decode("aGVsbG9="));      // unused bits set
  EXPECT_FALSE(base64Decode("aGVs=G8="));      // padding in the middle
  EXPECT_FALSE(base64Decode("a==="));          // three pads
  EXPECT_FALSE(base64Decode("aGVsbG8=aGVs"));  // data after padding
  EXPECT_FALSE(base64Decode("aGV-bG8="));      // base64url alphabet
  EXPECT_FALSE(base64Decode("aGVs\nbG8="));    // whitespace
}

}  // namespace
}  // namespace qaqpa::signing::sf
