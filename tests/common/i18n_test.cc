#include "gateway/common/i18n.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace qaqpa::common {
namespace {

constexpr Lang kLangs[] = {Lang::Kk, Lang::Ru, Lang::En};

std::vector<Reason> allReasons() {
  std::vector<Reason> out;
  for (int i = 0; i < common::kReasonCount; ++i) out.push_back(static_cast<Reason>(i));
  return out;
}

// Reasons whose detail carries Failure::param, per the comments in failure.h.
const std::set<Reason> kWithParam = {
    Reason::MissingHeader,
    Reason::InvalidHeader,
    Reason::DuplicateHeader,
    Reason::InvalidSubjectChecksum,
    Reason::InvalidServiceId,
    Reason::MethodNotAllowed,
    Reason::InvalidQuery,
    Reason::ClientUnknown,
    Reason::ClientWrongZone,
    Reason::ServiceNotExposed,
    Reason::NoGrant,
    Reason::PurposeNotAllowed,
    Reason::ServiceUnknown,
    Reason::ClientCertMismatch,
    Reason::GrantNotActive,
    Reason::InvalidBody,
    Reason::SignatureKeyMismatch,
    Reason::SignatureComponentMissing,
};

constexpr std::string_view kMarker = "\x01PARAM\x01";

bool isValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80           ? 1
                      : (b >> 5) == 0x6  ? 2
                      : (b >> 4) == 0xE  ? 3
                      : (b >> 3) == 0x1E ? 4
                                         : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// --- Exhaustive tables ------------------------------------------------------------------------

TEST(I18nTables, EveryStatusCodeHasDistinctTitlesInAllLanguages) {
  for (int i = 0; i < kStatusCodeCount; ++i) {
    const auto code = static_cast<StatusCode>(i);
    for (Lang lang : kLangs) {
      const auto t = title(code, lang);
      EXPECT_FALSE(t.empty()) << codeName(code) << " " << langTag(lang);
      EXPECT_TRUE(isValidUtf8(t)) << codeName(code);
      EXPECT_EQ(t.find("{}"), std::string_view::npos) << codeName(code);
    }
    EXPECT_NE(title(code, Lang::Kk), title(code, Lang::Ru)) << codeName(code);
    EXPECT_NE(title(code, Lang::Kk), title(code, Lang::En)) << codeName(code);
    EXPECT_NE(title(code, Lang::Ru), title(code, Lang::En)) << codeName(code);
  }
}

TEST(I18nTables, TitlesAreDistinctAcrossCodes) {
  for (Lang lang : kLangs) {
    std::set<std::string_view> seen;
    for (int i = 0; i < kStatusCodeCount; ++i) {
      EXPECT_TRUE(seen.insert(title(static_cast<StatusCode>(i), lang)).second)
          << codeName(static_cast<StatusCode>(i)) << " " << langTag(lang);
    }
  }
}

TEST(I18nTables, EveryReasonHasADetailInAllLanguages) {
  for (Reason r : allReasons()) {
    const auto name = reasonName(r);
    for (Lang lang : kLangs) {
      const std::string tmpl = detail(r, lang, "{}");
      EXPECT_FALSE(tmpl.empty()) << name << " " << langTag(lang);
      EXPECT_TRUE(isValidUtf8(tmpl)) << name;
      const std::string with = detail(r, lang, kMarker);
      const bool has_param = with.find(kMarker) != std::string::npos;
      EXPECT_EQ(has_param, kWithParam.count(r) == 1) << name << " " << langTag(lang);
      // Exactly one placeholder, substituted once.
      EXPECT_EQ(with.find("{}"), std::string::npos) << name << " " << langTag(lang);
      if (has_param) {
        EXPECT_EQ(with.find(kMarker), with.rfind(kMarker)) << name;
        EXPECT_EQ(with.size(), tmpl.size() - 2 + kMarker.size()) << name;
      } else {
        EXPECT_EQ(with, tmpl) << "param must be ignored when there is no {}: " << name;
      }
    }
    EXPECT_NE(detail(r, Lang::Kk, "x"), detail(r, Lang::Ru, "x")) << name;
    EXPECT_NE(detail(r, Lang::Kk, "x"), detail(r, Lang::En, "x")) << name;
    EXPECT_NE(detail(r, Lang::Ru, "x"), detail(r, Lang::En, "x")) << name;
  }
}

TEST(I18nTables, ReasonNamesAreUpperSnakeCaseAndUnique) {
  std::set<std::string_view> seen;
  for (Reason r : allReasons()) {
    const auto name = reasonName(r);
    ASSERT_FALSE(name.empty());
    EXPECT_TRUE(seen.insert(name).second) << name;
    EXPECT_TRUE(name.front() >= 'A' && name.front() <= 'Z') << name;
    EXPECT_NE(name.back(), '_') << name;
    for (char c : name) EXPECT_TRUE((c >= 'A' && c <= 'Z') || c == '_') << name;
  }
}

TEST(I18nTables, ReasonNamesMatchEnumerators) {
  EXPECT_EQ(reasonName(Reason::MalformedRequest), "MALFORMED_REQUEST");
  EXPECT_EQ(reasonName(Reason::HeaderTooLarge), "HEADER_TOO_LARGE");
  EXPECT_EQ(reasonName(Reason::BodyTooLarge), "BODY_TOO_LARGE");
  EXPECT_EQ(reasonName(Reason::MissingHeader), "MISSING_HEADER");
  EXPECT_EQ(reasonName(Reason::InvalidHeader), "INVALID_HEADER");
  EXPECT_EQ(reasonName(Reason::DuplicateHeader), "DUPLICATE_HEADER");
  EXPECT_EQ(reasonName(Reason::InvalidSubjectChecksum), "INVALID_SUBJECT_CHECKSUM");
  EXPECT_EQ(reasonName(Reason::InvalidServiceId), "INVALID_SERVICE_ID");
  EXPECT_EQ(reasonName(Reason::InvalidPath), "INVALID_PATH");
  EXPECT_EQ(reasonName(Reason::MethodNotAllowed), "METHOD_NOT_ALLOWED");
  EXPECT_EQ(reasonName(Reason::ClientUnknown), "CLIENT_UNKNOWN");
  EXPECT_EQ(reasonName(Reason::ClientWrongZone), "CLIENT_WRONG_ZONE");
  EXPECT_EQ(reasonName(Reason::ClientNotProven), "CLIENT_NOT_PROVEN");
  EXPECT_EQ(reasonName(Reason::ServiceNotExposed), "SERVICE_NOT_EXPOSED");
  EXPECT_EQ(reasonName(Reason::NoGrant), "NO_GRANT");
  EXPECT_EQ(reasonName(Reason::PurposeNotAllowed), "PURPOSE_NOT_ALLOWED");
  EXPECT_EQ(reasonName(Reason::ServiceUnknown), "SERVICE_UNKNOWN");
  EXPECT_EQ(reasonName(Reason::RouteUnknown), "ROUTE_UNKNOWN");
  EXPECT_EQ(reasonName(Reason::ProviderBadResponse), "PROVIDER_BAD_RESPONSE");
  EXPECT_EQ(reasonName(Reason::ProviderServerError), "PROVIDER_SERVER_ERROR");
  EXPECT_EQ(reasonName(Reason::ProviderUnreachable), "PROVIDER_UNREACHABLE");
  EXPECT_EQ(reasonName(Reason::ProviderDeadline), "PROVIDER_DEADLINE");
  EXPECT_EQ(reasonName(Reason::Overloaded), "OVERLOADED");
  EXPECT_EQ(reasonName(Reason::ShuttingDown), "SHUTTING_DOWN");
  EXPECT_EQ(reasonName(Reason::InternalError), "INTERNAL_ERROR");
}

TEST(I18nTables, KazakhTextsUseCyrillic) {
  // A cheap guard against a Latin or transliterated placeholder slipping into the kk column.
  for (int i = 0; i < kStatusCodeCount; ++i) {
    const auto t = title(static_cast<StatusCode>(i), Lang::Kk);
    EXPECT_NE(t.find("\xD0"), std::string_view::npos) << t;  // lead byte of U+0400..U+043F
  }
}

TEST(Detail, SubstitutesParam) {
  EXPECT_EQ(detail(Reason::MissingHeader, Lang::En, "Qaqpa-Client"),
            "Header Qaqpa-Client is required");
  EXPECT_EQ(detail(Reason::MissingHeader, Lang::Ru, "Qaqpa-Client"),
            "Требуется заголовок Qaqpa-Client");
  EXPECT_EQ(detail(Reason::MissingHeader, Lang::Kk, "Qaqpa-Client"),
            "Qaqpa-Client тақырыбы міндетті");
  EXPECT_EQ(detail(Reason::NoGrant, Lang::En, "person.byIin"),
            "The client has no access grant for service person.byIin");
}

TEST(Detail, ParamIsInsertedVerbatimOnce) {
  // A param that itself contains "{}" must not be expanded again.
  EXPECT_EQ(detail(Reason::MissingHeader, Lang::En, "{}{}"), "Header {}{} is required");
  EXPECT_EQ(detail(Reason::MissingHeader, Lang::En, ""), "Header  is required");
}

TEST(Title, ExampleFromHeader) {
  EXPECT_EQ(title(StatusCode::AccessDenied, Lang::En), "Access denied");
  EXPECT_EQ(title(StatusCode::AccessDenied, Lang::Ru), "Доступ запрещён");
}

TEST(LangTag, Values) {
  EXPECT_EQ(langTag(Lang::Kk), "kk");
  EXPECT_EQ(langTag(Lang::Ru), "ru");
  EXPECT_EQ(langTag(Lang::En), "en");
}

// --- Accept-Language --------------------------------------------------------------------------

struct AcceptCase {
  const char* header;
  Lang expected;
};

TEST(ParseAcceptLanguage, Cases) {
  const AcceptCase cases[] = {
      {"", Lang::Kk},
      {"   ", Lang::Kk},
      {"kk", Lang::Kk},
      {"ru", Lang::Ru},
      {"en", Lang::En},
      {"RU", Lang::Ru},
      {"En", Lang::En},
      {"ru-RU", Lang::Ru},
      {"kk-KZ", Lang::Kk},
      {"en-GB", Lang::En},
      {"en-US", Lang::En},
      {"zh-Hant-TW", Lang::Kk},
      {"ru-Cyrl-KZ", Lang::Ru},
      {"*", Lang::Kk},
      {"de", Lang::Kk},
      {"de, fr", Lang::Kk},
      {"de, en", Lang::En},
      {"fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", Lang::En},
      {"ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", Lang::Ru},
      {"en;q=0.5, ru;q=0.8", Lang::Ru},
      {"en;q=0.8, ru;q=0.8", Lang::En},  // tie: first wins
      {"ru;q=0.8, en;q=0.8", Lang::Ru},
      {"en, ru", Lang::En},
      {"en;q=1, ru;q=1.0", Lang::En},
      {"en;q=0.001, ru;q=0", Lang::En},
      {"ru;q=0", Lang::Kk},
      {"ru;q=0.000, en;q=0", Lang::Kk},
      {"ru;q=0, *", Lang::Kk},
      {"*;q=0.1, ru;q=0.2", Lang::Ru},
      {"*, ru", Lang::Kk},
      {"ru;q=0.9, *;q=1", Lang::Kk},
      {"  ru ;  q=0.5 ,\ten\t;\tq=0.7  ", Lang::En},
      {"ru;Q=0.5, en;q=0.4", Lang::Ru},  // "q" is case-insensitive
      {",,, ru ,,", Lang::Ru},
      {"en-", Lang::Kk},                   // malformed range
      {"-en", Lang::Kk},                   //
      {"en--GB", Lang::Kk},                //
      {"en_GB", Lang::Kk},                 //
      {"en-GB-abcdefghi", Lang::Kk},       // subtag longer than 8
      {"abcdefghi", Lang::Kk},             //
      {"e n", Lang::Kk},                   //
      {"ru;q=2", Lang::Kk},                // qvalue out of range
      {"ru;q=1.5", Lang::Kk},              //
      {"ru;q=1.001", Lang::Kk},            //
      {"ru;q=0.1234", Lang::Kk},           // too many digits
      {"ru;q=.5", Lang::Kk},               //
      {"ru;q=", Lang::Kk},                 //
      {"ru;q", Lang::Kk},                  //
      {"ru;", Lang::Kk},                   //
      {"ru;x=1", Lang::Kk},                //
      {"ru;q=0.5;q=0.6", Lang::Kk},        //
      {"ru;q=-1", Lang::Kk},               //
      {"ru;q=0.5x", Lang::Kk},             //
      {"ru;q=1., en;q=0.5", Lang::Ru},     // "1." is a valid qvalue
      {"ru;q=bad, en;q=0.3", Lang::En},    // malformed element skipped, rest still used
      {"ru q=0.5, en", Lang::En},          //
      {"\xD1\x80\xD1\x83, ru", Lang::Ru},  // non-ASCII element skipped
      {"kk;q=0.1, ru;q=0.2, en;q=0.3", Lang::En},
      {"kk;q=0.3, ru;q=0.2, en;q=0.1", Lang::Kk},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parseAcceptLanguage(c.header), c.expected) << "'" << c.header << "'";
  }
}

TEST(ParseAcceptLanguage, EmbeddedNulIsJustAnotherByte) {
  const std::string header("ru\0, en", 7);
  EXPECT_EQ(parseAcceptLanguage(header), Lang::En);
}

TEST(ParseAcceptLanguage, TruncatedAtEveryByteDoesNotCrash) {
  const std::string header = "fr-CH, fr;q=0.9, ru-RU;q=0.85 , en;q=0.8, de;q=0.7, *;q=0.5";
  for (std::size_t cut = 0; cut <= header.size(); ++cut) {
    const std::vector<char> head(header.begin(), header.begin() + static_cast<long>(cut));
    const std::vector<char> tail(header.begin() + static_cast<long>(cut), header.end());
    const Lang a = parseAcceptLanguage(std::string_view(head.data(), head.size()));
    const Lang b = parseAcceptLanguage(std::string_view(tail.data(), tail.size()));
    EXPECT_TRUE(a == Lang::Kk || a == Lang::Ru || a == Lang::En);
    EXPECT_TRUE(b == Lang::Kk || b == Lang::Ru || b == Lang::En);
  }
}

TEST(ParseAcceptLanguage, LongHostileInputs) {
  EXPECT_EQ(parseAcceptLanguage(std::string(100'000, ',')), Lang::Kk);
  EXPECT_EQ(parseAcceptLanguage(std::string(100'000, ';')), Lang::Kk);
  EXPECT_EQ(parseAcceptLanguage(std::string(100'000, '-')), Lang::Kk);
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "de;q=0.9,";
  many += "ru;q=0.1";
  EXPECT_EQ(parseAcceptLanguage(many), Lang::Ru);
}

}  // namespace
}  // namespace qaqpa::common
