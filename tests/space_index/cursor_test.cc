#include "gateway/space_index/cursor.h"

#include <gtest/gtest.h>

#include "gateway/space_index/event_index.h"

namespace qaqpa::space_index {
namespace {

const std::uint64_t kSubjectA = *packSubject("IIN:900101300123");
const std::uint64_t kSubjectB = *packSubject("IIN:850202400456");

TEST(CursorTest, RoundTripsForItsSubjectOnly) {
  const CursorCodec codec = CursorCodec::random();
  for (const std::uint64_t seq :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{123456789}, ~std::uint64_t{0}}) {
    const std::string text = codec.encode(kSubjectA, seq);
    EXPECT_EQ(text.size(), CursorCodec::kTextLength);
    EXPECT_EQ(
        text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    EXPECT_EQ(codec.decode(kSubjectA, text), seq);
    EXPECT_EQ(codec.decode(kSubjectB, text), std::nullopt) << "another subject's cursor";
  }
  // IIN and BIN with the same digits are different subjects.
  const std::string text = codec.encode(*packSubject("IIN:123456789012"), 5);
  EXPECT_EQ(codec.decode(*packSubject("BIN:123456789012"), text), std::nullopt);
}

TEST(CursorTest, EveryAlteredCharacterIsRefused) {
  const CursorCodec codec = CursorCodec::random();
  const std::string text = codec.encode(kSubjectA, 1000);
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  int tried = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    for (const char c : kAlphabet) {
      if (c == text[i]) continue;
      std::string t = text;
      t[i] = c;
      ++tried;
      EXPECT_EQ(codec.decode(kSubjectA, t), std::nullopt) << "position " << i << " char " << c;
    }
  }
  EXPECT_EQ(tried, 34 * 63);
}

TEST(CursorTest, ForgedMalformedAndOtherKeysAreRefused) {
  const CursorCodec codec(std::string(32, 'k'));
  const CursorCodec other(std::string(32, 'x'));  // another process (or a restart)
  const std::string text = codec.encode(kSubjectA, 77);
  EXPECT_EQ(codec.decode(kSubjectA, text), 77u);
  EXPECT_EQ(other.decode(kSubjectA, text), std::nullopt);
  // A forger who knows the layout but not the key: version 1, seq bound of their choice, zero MAC.
  EXPECT_EQ(codec.decode(kSubjectA, "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), std::nullopt);
  EXPECT_EQ(codec.decode(kSubjectA, "Af__________AAAAAAAAAAAAAAAAAAAAAA"), std::nullopt);
  EXPECT_EQ(codec.decode(kSubjectA, ""), std::nullopt);
  EXPECT_EQ(codec.decode(kSubjectA, text.substr(0, 33)), std::nullopt);
  EXPECT_EQ(codec.decode(kSubjectA, text + "A"), std::nullopt);
  EXPECT_EQ(codec.decode(kSubjectA, text.substr(0, 33) + "="), std::nullopt);
  std::string plus = text;
  plus[3] = '+';  // standard base64, not base64url
  EXPECT_EQ(codec.decode(kSubjectA, plus), std::nullopt);
  // A different version byte with an otherwise valid layout.
  std::string v2 = text;
  v2[0] = 'A';
  v2[1] = 'g';  // first byte 0x02
  EXPECT_EQ(codec.decode(kSubjectA, v2), std::nullopt);
  EXPECT_THROW(CursorCodec(std::string(16, 'k')), std::invalid_argument);
}

}  // namespace
}  // namespace qaqpa::space_index
