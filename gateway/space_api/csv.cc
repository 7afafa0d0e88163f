#include "gateway/space_api/csv.h"

#include <array>
#include <cstdio>

#include "gateway/space_api/labels.h"

namespace qaqpa::space_api {
namespace {

namespace pb = qaqpa::journal::v1;

// Local (UTC+05:00) seconds of 0001-01-01 00:00:00 and 9999-12-31 23:59:59.
constexpr std::int64_t kMinLocalSeconds = -62135596800;
constexpr std::int64_t kMaxLocalSeconds = 253402300799;

struct Civil {
  int year;
  unsigned month, day, hour, minute, second;
};

// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
Civil civilFromLocalSeconds(std::int64_t unix_seconds) noexcept {
  std::int64_t local;
  if (unix_seconds > kMaxLocalSeconds - kAlmatyOffsetSeconds) {
    local = kMaxLocalSeconds;
  } else if (unix_seconds < kMinLocalSeconds - kAlmatyOffsetSeconds) {
    local = kMinLocalSeconds;
  } else {
    local = unix_seconds + kAlmatyOffsetSeconds;
  }
  std::int64_t days = local / 86400;
  std::int64_t rem = local % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const auto y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0));
  const auto secs = static_cast<unsigned>(rem);
  return Civil{y, m, d, secs / 3600, secs / 60 % 60, secs % 60};
}

// OWASP "CSV injection": a spreadsheet reads a cell starting with one of these as a formula.
bool needsPrefix(std::string_view cell) noexcept {
  if (cell.empty()) return false;
  const char c = cell.front();
  return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

// Appends `cell` neutralized and quoted, then `sep`.
void appendCell(std::string& out, std::string_view cell, std::string_view sep) {
  out.push_back('"');
  if (needsPrefix(cell)) out.push_back('\'');
  for (const char c : cell) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  out.append(sep);
}

// The text in `lang`, else in the other two languages (kk → ru → en, ru → en → kk,
// en → ru → kk), else `fallback`.
std::string_view localized(const pb::LocalizedText& t, common::Lang lang,
                           std::string_view fallback) noexcept {
  const std::string_view kk = t.kk(), ru = t.ru(), en = t.en();
  std::array<std::string_view, 3> order;
  switch (lang) {
    case common::Lang::Kk:
      order = {kk, ru, en};
      break;
    case common::Lang::Ru:
      order = {ru, en, kk};
      break;
    case common::Lang::En:
      order = {en, ru, kk};
      break;
  }
  for (const std::string_view s : order) {
    if (!s.empty()) return s;
  }
  return fallback;
}

std::string hexLower(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char b : bytes) {
    const auto v = static_cast<unsigned char>(b);
    out.push_back(kHex[v >> 4]);
    out.push_back(kHex[v & 0x0F]);
  }
  return out;
}

using Header = std::array<std::string_view, kCsvColumns>;

constexpr Header kHeaderKk = {
    "Уақыты (Алматы, UTC+05:00)",
    "Оқиға",
    "Аймақ",
    "Ұйым және жүйе",
    "Жүйе идентификаторы",
    "Сервис",
    "Сервис идентификаторы",
    "Мақсаты",
    "Нәтиже",
    "Күй коды",
    "Деректерді жеткізуші",
    "Оқиға идентификаторы",
    "Хеш (SHA-256, hex)",
};
constexpr Header kHeaderRu = {
    "Время (Алматы, UTC+05:00)",
    "Событие",
    "Зона",
    "Организация и система",
    "Идентификатор системы",
    "Сервис",
    "Идентификатор сервиса",
    "Цель",
    "Результат",
    "Код статуса",
    "Поставщик данных",
    "Идентификатор события",
    "Хеш (SHA-256, hex)",
};
constexpr Header kHeaderEn = {
    "Time (Almaty, UTC+05:00)",
    "Event",
    "Zone",
    "Organisation and system",
    "System ID",
    "Service",
    "Service ID",
    "Purpose",
    "Outcome",
    "Status code",
    "Data provider",
    "Event ID",
    "Hash (SHA-256, hex)",
};

}  // namespace

std::string neutralizeCell(std::string_view cell) {
  std::string out;
  out.reserve(cell.size() + 1);
  if (needsPrefix(cell)) out.push_back('\'');
  out.append(cell);
  return out;
}

std::string formatAlmatyTime(std::int64_t unix_seconds) {
  const Civil c = civilFromLocalSeconds(unix_seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02u:%02u:%02u", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

std::string csvFileName(std::chrono::system_clock::time_point now) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
  const Civil c = civilFromLocalSeconds(static_cast<std::int64_t>(secs));
  char buf[40];
  std::snprintf(buf, sizeof buf, "qaqpa-events-%04d%02u%02u.csv", c.year, c.month, c.day);
  return buf;
}

void appendCsvHeader(std::string& out, common::Lang lang) {
  const Header* header = &kHeaderKk;
  if (lang == common::Lang::Ru) header = &kHeaderRu;
  if (lang == common::Lang::En) header = &kHeaderEn;
  out.append(kUtf8Bom);
  for (std::size_t i = 0; i < kCsvColumns; ++i) {
    appendCell(out, (*header)[i], i + 1 < kCsvColumns ? "," : "\r\n");
  }
}

void appendCsvRow(std::string& out, const pb::DigitalEvent& e, common::Lang lang) {
  const std::string time = e.has_time() ? formatAlmatyTime(e.time().seconds()) : std::string();
  const std::string hash = hexLower(e.hash());
  const std::string_view client_name =
      e.has_client() ? localized(e.client().name(), lang, e.client().id()) : std::string_view();
  const std::string_view service_name =
      e.has_service() ? localized(e.service().name(), lang, e.service().id()) : std::string_view();
  const std::string_view purpose_text =
      e.has_purpose() ? localized(e.purpose().text(), lang, e.purpose().code())
                      : std::string_view();
  const std::string_view provider_name =
      e.has_provider() ? localized(e.provider().name(), lang, e.provider().id())
                       : std::string_view();
  const std::array<std::string_view, kCsvColumns> cells = {
      time,
      kindLabel(static_cast<int>(e.kind()), lang),
      zoneLabel(static_cast<int>(e.zone()), lang),
      client_name,
      e.client().id(),
      service_name,
      e.service().id(),
      purpose_text,
      e.status().empty() ? std::string_view() : outcomeLabel(e.status(), lang),
      e.status(),
      provider_name,
      e.event_id(),
      hash,
  };
  for (std::size_t i = 0; i < kCsvColumns; ++i) {
    appendCell(out, cells[i], i + 1 < kCsvColumns ? "," : "\r\n");
  }
}

}  // namespace qaqpa::space_api
