#include "gateway/space_api/labels.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "gateway/common/status.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::space_api {
namespace {

using common::Lang;
namespace pb = qaqpa::journal::v1;

constexpr Lang kLangs[] = {Lang::Kk, Lang::Ru, Lang::En};

// Decodes UTF-8 (the labels are valid UTF-8: checked by the decoder's asserts) into code points.
std::u32string codePoints(std::string_view s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    EXPECT_LE(i + len, s.size()) << s;
    if (i + len > s.size()) break;
    char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      EXPECT_EQ(c & 0xC0, 0x80) << s;
      cp = (cp << 6) | (c & 0x3F);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

bool isCyrillic(char32_t c) { return c >= 0x0400 && c <= 0x04FF; }
bool isLatin(char32_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
// Letters of the Kazakh alphabet that Russian does not have.
bool isKazakhOnly(char32_t c) {
  return std::u32string_view(U"ӘәҒғҚқҢңӨөҰұҮүҺһІі").find(c) != std::u32string_view::npos;
}
// Letters of the Russian alphabet that Kazakh has too, plus Kazakh's own: no Ukrainian ї, є, ґ.
bool isNotKazakhOrRussian(char32_t c) {
  return std::u32string_view(U"ЇїЄєҐґЎўЈј").find(c) != std::u32string_view::npos;
}

// A label in `lang` is written in that language's script: Kazakh and Russian in Cyrillic with no
// Latin letter (the code names "SHA-256", "UTC" aside, which labels do not use), English in
// ASCII.
void expectScript(std::string_view label, Lang lang) {
  ASSERT_FALSE(label.empty());
  const std::u32string cps = codePoints(label);
  int cyrillic = 0;
  for (const char32_t c : cps) {
    if (isCyrillic(c)) ++cyrillic;
    if (lang != Lang::En) {
      EXPECT_FALSE(isLatin(c)) << label;
      EXPECT_FALSE(isNotKazakhOrRussian(c)) << label;
    } else {
      EXPECT_LT(c, 0x80u) << label;
    }
    if (lang == Lang::Ru) {
      EXPECT_FALSE(isKazakhOnly(c)) << "Kazakh letter in Russian: " << label;
    }
  }
  if (lang != Lang::En) {
    EXPECT_GT(cyrillic, 0) << label;
  }
}

TEST(LabelsTest, KindsInEveryLanguage) {
  EXPECT_EQ(kindLabel(pb::DATA_ACCESS, Lang::En), "Data used");
  EXPECT_EQ(kindLabel(pb::DATA_ACCESS, Lang::Ru), "Данные использованы");
  EXPECT_EQ(kindLabel(pb::DATA_ACCESS, Lang::Kk), "Деректер пайдаланылды");
  EXPECT_EQ(kindLabel(pb::CONSENT_REVOKED, Lang::Kk), "Келісім қайтарып алынды");
  EXPECT_EQ(kindLabel(pb::INTERNATIONAL_TRANSFER, Lang::En), "Data sent abroad");
  for (const Lang lang : kLangs) {
    std::set<std::string_view> seen;
    for (int k = pb::Kind_MIN; k <= pb::Kind_MAX; ++k) {
      const std::string_view label = kindLabel(k, lang);
      expectScript(label, lang);
      EXPECT_TRUE(seen.insert(label).second) << "two kinds share " << label;
    }
    // Unknown kinds: the generic word, which is also KIND_UNSPECIFIED's.
    EXPECT_EQ(kindLabel(pb::Kind_MAX + 1, lang), kindLabel(0, lang));
    EXPECT_EQ(kindLabel(-1, lang), kindLabel(0, lang));
    EXPECT_EQ(kindLabel(1 << 30, lang), kindLabel(0, lang));
  }
  EXPECT_EQ(kindLabel(99, Lang::En), "Other event");
  EXPECT_EQ(kindLabel(99, Lang::Ru), "Другое событие");
  EXPECT_EQ(kindLabel(99, Lang::Kk), "Басқа оқиға");
}

TEST(LabelsTest, ZonesInEveryLanguage) {
  EXPECT_EQ(zoneLabel(pb::STATE, Lang::En), "State systems");
  EXPECT_EQ(zoneLabel(pb::EXTERNAL, Lang::En), "Non-state systems");
  EXPECT_EQ(zoneLabel(pb::EXTERNAL, Lang::Kk), "Мемлекеттік емес жүйелер");
  EXPECT_EQ(zoneLabel(pb::INTERNATIONAL, Lang::Ru), "Международный обмен");
  EXPECT_EQ(zoneLabel(pb::SPACE, Lang::Kk), "Цифрлық кеңістік");
  EXPECT_EQ(zoneLabel(pb::ADMIN, Lang::En), "Gateway operator");
  EXPECT_EQ(pb::Zone_MAX, 5) << "a new zone needs its words";
  for (const Lang lang : kLangs) {
    std::set<std::string_view> seen;
    for (int z = pb::Zone_MIN; z <= pb::Zone_MAX; ++z) {
      const std::string_view label = zoneLabel(z, lang);
      expectScript(label, lang);
      EXPECT_TRUE(seen.insert(label).second) << label;
    }
    EXPECT_EQ(zoneLabel(6, lang), zoneLabel(0, lang));
    EXPECT_EQ(zoneLabel(-3, lang), zoneLabel(0, lang));
  }
}

TEST(LabelsTest, Outcomes) {
  EXPECT_EQ(outcomeLabel("OK", Lang::En), "Provided");
  EXPECT_EQ(outcomeLabel("OK", Lang::Ru), "Предоставлено");
  EXPECT_EQ(outcomeLabel("OK", Lang::Kk), "Берілді");
  EXPECT_EQ(outcomeLabel("CONSENT_REQUIRED", Lang::En), "Refused: no consent from you");
  for (const std::string_view provider :
       {"PROVIDER_ERROR", "PROVIDER_UNAVAILABLE", "PROVIDER_TIMEOUT"}) {
    EXPECT_EQ(outcomeLabel(provider, Lang::En), "Not delivered");
    EXPECT_EQ(outcomeLabel(provider, Lang::Ru), "Не доставлено");
    EXPECT_EQ(outcomeLabel(provider, Lang::Kk), "Жеткізілмеді");
  }
  for (const std::string_view refused :
       {"ACCESS_DENIED", "CONSENT_REQUIRED", "AUTH_FAILED", "SIGNATURE_INVALID",
        "VALIDATION_FAILED", "SERVICE_NOT_FOUND", "RATE_LIMITED", "DUPLICATE"}) {
    EXPECT_EQ(outcomeLabel(refused, Lang::En).substr(0, 9), "Refused: ") << refused;
    EXPECT_EQ(outcomeLabel(refused, Lang::Ru).rfind("Отказано: ", 0), 0u) << refused;
    EXPECT_EQ(outcomeLabel(refused, Lang::Kk).rfind("Бас тартылды: ", 0), 0u) << refused;
  }
  for (const std::string_view unknown : {"", "ok", "SOMETHING_NEW", "OK "}) {
    EXPECT_EQ(outcomeLabel(unknown, Lang::En), "Outcome unknown") << unknown;
    EXPECT_EQ(outcomeLabel(unknown, Lang::Ru), "Результат неизвестен");
    EXPECT_EQ(outcomeLabel(unknown, Lang::Kk), "Нәтижесі белгісіз");
  }
}

// Every canonical code of PROTOCOL.md §5 has its own words (none falls to "Outcome unknown").
TEST(LabelsTest, EveryStatusCodeHasWords) {
  for (int i = static_cast<int>(common::StatusCode::Ok);
       i <= static_cast<int>(common::StatusCode::Internal); ++i) {
    const std::string_view code = common::codeName(static_cast<common::StatusCode>(i));
    for (const Lang lang : kLangs) {
      const std::string_view label = outcomeLabel(code, lang);
      EXPECT_NE(label, outcomeLabel("", lang)) << code;
      expectScript(label, lang);
    }
  }
}

}  // namespace
}  // namespace qaqpa::space_api
