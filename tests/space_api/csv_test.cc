#include "gateway/space_api/csv.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gateway/space_api/labels.h"

namespace qaqpa::space_api {
namespace {

using common::Lang;
namespace pb = qaqpa::journal::v1;

using Row = std::vector<std::string>;

// A strict reader of what the writer promises: every field quoted, '"' doubled inside, fields
// separated by ',' and rows ended by CRLF. nullopt on anything else.
std::optional<std::vector<Row>> readCsv(std::string_view text) {
  std::vector<Row> rows;
  std::size_t i = 0;
  while (i < text.size()) {
    Row row;
    while (true) {
      if (i >= text.size() || text[i] != '"') return std::nullopt;
      ++i;
      std::string cell;
      while (true) {
        if (i >= text.size()) return std::nullopt;
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            cell.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        cell.push_back(text[i++]);
      }
      row.push_back(std::move(cell));
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      if (text.substr(i, 2) == "\r\n") {
        i += 2;
        break;
      }
      return std::nullopt;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Row onlyRow(const std::string& csv) {
  const auto rows = readCsv(csv);
  EXPECT_TRUE(rows.has_value()) << csv;
  if (!rows) return {};
  EXPECT_EQ(rows->size(), 1u);
  return rows->empty() ? Row{} : rows->front();
}

Row row(const pb::DigitalEvent& e, Lang lang) {
  std::string out;
  appendCsvRow(out, e, lang);
  return onlyRow(out);
}

void setText(pb::LocalizedText* t, std::string kk, std::string ru, std::string en) {
  t->set_kk(std::move(kk));
  t->set_ru(std::move(ru));
  t->set_en(std::move(en));
}

// 2026-11-23T12:17:01Z = 17:17:01 in Almaty.
constexpr std::int64_t kTime = 1795436221;

pb::DigitalEvent fullEvent() {
  pb::DigitalEvent e;
  e.set_event_id("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  e.set_node_id("node-1");
  e.mutable_time()->set_seconds(kTime);
  e.mutable_time()->set_nanos(250000000);
  e.set_zone(pb::EXTERNAL);
  e.set_kind(pb::DATA_ACCESS);
  e.mutable_client()->set_id("KZ/COM/990340000014/bank-core");
  setText(e.mutable_client()->mutable_name(), "Банк (негізгі жүйе)", "Банк (основная система)",
          "Bank (core system)");
  e.mutable_provider()->set_id("KZ/GOV/990340000014/registry");
  setText(e.mutable_provider()->mutable_name(), "Тізілім", "Реестр", "Registry");
  e.mutable_service()->set_id("person.byIin");
  setText(e.mutable_service()->mutable_name(), "Жеке тұлға", "Физическое лицо", "Person by IIN");
  e.set_subject("IIN:900101300017");
  e.mutable_purpose()->set_code("LOAN_APPLICATION");
  setText(e.mutable_purpose()->mutable_text(), "Несие өтінімі", "Заявка на кредит",
          "Loan application");
  e.set_status("OK");
  e.set_http_status(200);
  e.set_seq(42);
  std::string hash(32, '\0');
  for (std::size_t i = 0; i < hash.size(); ++i) hash[i] = static_cast<char>(i * 8 + 7);
  hash[0] = '\xAB';
  hash[31] = '\xFF';
  e.set_hash(hash);
  return e;
}

TEST(CsvHeaderTest, BomAndHeaderPerLanguage) {
  std::string en;
  appendCsvHeader(en, Lang::En);
  EXPECT_EQ(en.substr(0, 3), "\xEF\xBB\xBF");
  EXPECT_EQ(en.substr(3),
            "\"Time (Almaty, UTC+05:00)\",\"Event\",\"Zone\",\"Organisation and system\","
            "\"System ID\",\"Service\",\"Service ID\",\"Purpose\",\"Outcome\",\"Status code\","
            "\"Data provider\",\"Event ID\",\"Hash (SHA-256, hex)\"\r\n");

  std::string ru;
  appendCsvHeader(ru, Lang::Ru);
  ASSERT_EQ(ru.substr(0, 3), kUtf8Bom);
  const Row ru_row = onlyRow(ru.substr(3));
  ASSERT_EQ(ru_row.size(), kCsvColumns);
  EXPECT_EQ(ru_row[0], "Время (Алматы, UTC+05:00)");
  EXPECT_EQ(ru_row[1], "Событие");
  EXPECT_EQ(ru_row[3], "Организация и система");
  EXPECT_EQ(ru_row[10], "Поставщик данных");

  std::string kk;
  appendCsvHeader(kk, Lang::Kk);
  ASSERT_EQ(kk.substr(0, 3), kUtf8Bom);
  const Row kk_row = onlyRow(kk.substr(3));
  ASSERT_EQ(kk_row.size(), kCsvColumns);
  EXPECT_EQ(kk_row[0], "Уақыты (Алматы, UTC+05:00)");
  EXPECT_EQ(kk_row[1], "Оқиға");
  EXPECT_EQ(kk_row[3], "Ұйым және жүйе");
  EXPECT_EQ(kk_row[8], "Нәтиже");
  EXPECT_NE(kk_row, ru_row);

  // Appends: what was there stays.
  std::string out = "x";
  appendCsvHeader(out, Lang::En);
  EXPECT_EQ(out, "x" + en);
}

TEST(CsvRowTest, FullEventInEnglish) {
  std::string out;
  appendCsvRow(out, fullEvent(), Lang::En);
  EXPECT_EQ(out,
            "\"2026-11-23 17:17:01\",\"Data used\",\"Non-state systems\",\"Bank (core system)\","
            "\"KZ/COM/990340000014/bank-core\",\"Person by IIN\",\"person.byIin\","
            "\"Loan application\",\"Provided\",\"OK\",\"Registry\","
            "\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\","
            "\"ab0f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff\"\r\n");
}

TEST(CsvRowTest, WordsAndNamesFollowTheLanguage) {
  const Row kk = row(fullEvent(), Lang::Kk);
  ASSERT_EQ(kk.size(), kCsvColumns);
  EXPECT_EQ(kk[1], kindLabel(pb::DATA_ACCESS, Lang::Kk));
  EXPECT_EQ(kk[2], zoneLabel(pb::EXTERNAL, Lang::Kk));
  EXPECT_EQ(kk[3], "Банк (негізгі жүйе)");
  EXPECT_EQ(kk[5], "Жеке тұлға");
  EXPECT_EQ(kk[7], "Несие өтінімі");
  EXPECT_EQ(kk[8], "Берілді");
  EXPECT_EQ(kk[10], "Тізілім");
  const Row ru = row(fullEvent(), Lang::Ru);
  ASSERT_EQ(ru.size(), kCsvColumns);
  EXPECT_EQ(ru[1], "Данные использованы");
  EXPECT_EQ(ru[3], "Банк (основная система)");
  EXPECT_EQ(ru[7], "Заявка на кредит");
  EXPECT_EQ(ru[8], "Предоставлено");
  // Ids, codes, time and hash do not depend on the language.
  for (const std::size_t c : {0, 4, 6, 9, 11, 12}) EXPECT_EQ(kk[c], ru[c]) << c;
}

TEST(CsvRowTest, MissingTranslationFallsBackThenToTheId) {
  pb::DigitalEvent e = fullEvent();
  setText(e.mutable_client()->mutable_name(), "", "Только русский", "");
  setText(e.mutable_service()->mutable_name(), "Тек қазақша", "", "");
  setText(e.mutable_provider()->mutable_name(), "", "", "English only");
  setText(e.mutable_purpose()->mutable_text(), "", "", "");
  for (const Lang lang : {Lang::Kk, Lang::Ru, Lang::En}) {
    const Row r = row(e, lang);
    ASSERT_EQ(r.size(), kCsvColumns);
    EXPECT_EQ(r[3], "Только русский");
    EXPECT_EQ(r[5], "Тек қазақша");
    EXPECT_EQ(r[10], "English only");
    EXPECT_EQ(r[7], "LOAN_APPLICATION");  // no text at all: the code
  }
  // Order: kk → ru → en; ru → en → kk; en → ru → kk.
  setText(e.mutable_client()->mutable_name(), "", "ru", "en");
  EXPECT_EQ(row(e, Lang::Kk)[3], "ru");
  setText(e.mutable_client()->mutable_name(), "kk", "", "en");
  EXPECT_EQ(row(e, Lang::Ru)[3], "en");
  setText(e.mutable_client()->mutable_name(), "kk", "ru", "");
  EXPECT_EQ(row(e, Lang::En)[3], "ru");
  // No name at all: the id.
  e.mutable_client()->clear_name();
  e.mutable_service()->clear_name();
  e.mutable_provider()->clear_name();
  const Row r = row(e, Lang::En);
  EXPECT_EQ(r[3], "KZ/COM/990340000014/bank-core");
  EXPECT_EQ(r[5], "person.byIin");
  EXPECT_EQ(r[10], "KZ/GOV/990340000014/registry");
}

TEST(CsvRowTest, EmptyOptionalFieldsAreEmptyCells) {
  pb::DigitalEvent e;
  e.set_event_id("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  e.set_kind(pb::POLICY_CHANGED);
  e.set_zone(pb::ADMIN);
  std::string out;
  appendCsvRow(out, e, Lang::En);
  EXPECT_EQ(out,
            "\"\",\"Access rules changed\",\"Gateway operator\",\"\",\"\",\"\",\"\",\"\",\"\",\"\","
            "\"\",\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"\"\r\n");
  // Unset enums are the generic words, not empty.
  const Row r = row(pb::DigitalEvent(), Lang::Ru);
  ASSERT_EQ(r.size(), kCsvColumns);
  EXPECT_EQ(r[1], "Другое событие");
  EXPECT_EQ(r[2], "Не указано");
  // A status the labels do not know: its code, and the generic outcome.
  e.set_status("NEW_CODE");
  const Row s = row(e, Lang::En);
  EXPECT_EQ(s[8], "Outcome unknown");
  EXPECT_EQ(s[9], "NEW_CODE");
}

TEST(CsvRowTest, QuotesCommasAndLineBreaksSurviveQuoting) {
  pb::DigitalEvent e = fullEvent();
  const std::string tricky = "ТОО \"Банк, Ltd\"\r\nline 2\nline \"3\"\r";
  setText(e.mutable_client()->mutable_name(), tricky, tricky, tricky);
  setText(e.mutable_purpose()->mutable_text(), "a,b", "a,b", "a,b");
  e.mutable_service()->set_id("x\"\"y");
  e.mutable_service()->clear_name();
  std::string out;
  appendCsvRow(out, e, Lang::En);
  EXPECT_NE(out.find("\"ТОО \"\"Банк, Ltd\"\"\r\nline 2\nline \"\"3\"\"\r\""), std::string::npos)
      << out;
  const Row r = onlyRow(out);
  ASSERT_EQ(r.size(), kCsvColumns);
  EXPECT_EQ(r[3], tricky);
  EXPECT_EQ(r[7], "a,b");
  EXPECT_EQ(r[5], "x\"\"y");
  EXPECT_EQ(r[6], "x\"\"y");
}

TEST(CsvNeutralizeTest, Cells) {
  EXPECT_EQ(neutralizeCell("=1+2"), "'=1+2");
  EXPECT_EQ(neutralizeCell("+1"), "'+1");
  EXPECT_EQ(neutralizeCell("-1"), "'-1");
  EXPECT_EQ(neutralizeCell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(neutralizeCell("\tx"), "'\tx");
  EXPECT_EQ(neutralizeCell("\rx"), "'\rx");
  EXPECT_EQ(neutralizeCell("="), "'=");
  EXPECT_EQ(neutralizeCell(""), "");
  EXPECT_EQ(neutralizeCell("a=1"), "a=1");
  EXPECT_EQ(neutralizeCell(" =1"), " =1");
  EXPECT_EQ(neutralizeCell("'=1"), "'=1");
  EXPECT_EQ(neutralizeCell("\n=1"), "\n=1");
  EXPECT_EQ(neutralizeCell("Банк"), "Банк");
}

// Every column an event's fields reach: a value starting with each dangerous character comes out
// prefixed with '\'', in every language.
TEST(CsvNeutralizeTest, EveryColumnOfARow) {
  for (const char lead : {'=', '+', '-', '@', '\t', '\r'}) {
    const std::string bad = std::string(1, lead) + "HYPERLINK(\"http://x\",\"y\")";
    const std::string safe = "'" + bad;
    pb::DigitalEvent e = fullEvent();
    e.mutable_client()->set_id(bad);
    setText(e.mutable_client()->mutable_name(), bad, bad, bad);
    e.mutable_service()->set_id(bad);
    setText(e.mutable_service()->mutable_name(), bad, bad, bad);
    setText(e.mutable_purpose()->mutable_text(), bad, bad, bad);
    e.set_status(bad);
    e.mutable_provider()->set_id("p");
    setText(e.mutable_provider()->mutable_name(), bad, bad, bad);
    e.set_event_id(bad);
    for (const Lang lang : {Lang::Kk, Lang::Ru, Lang::En}) {
      const Row r = row(e, lang);
      ASSERT_EQ(r.size(), kCsvColumns);
      for (const std::size_t c : {3, 4, 5, 6, 7, 9, 10, 11}) {
        EXPECT_EQ(r[c], safe) << "column " << c << " lead " << int(lead);
      }
    }
    // The fallbacks (ids and the purpose code) are neutralized too.
    e.mutable_client()->clear_name();
    e.mutable_service()->clear_name();
    e.mutable_provider()->set_id(bad);
    e.mutable_provider()->clear_name();
    e.mutable_purpose()->set_code(bad);
    e.mutable_purpose()->clear_text();
    const Row r = row(e, Lang::En);
    for (const std::size_t c : {3, 5, 7, 10}) EXPECT_EQ(r[c], safe) << "column " << c;
  }
}

// The columns the writer fills from its own tables (time, words, hash, header) never start with a
// dangerous character, so the rule holds for them without any prefix.
TEST(CsvNeutralizeTest, GeneratedCellsNeverStartDangerously) {
  auto safe = [](std::string_view cell) { return neutralizeCell(cell) == cell; };
  for (const Lang lang : {Lang::Kk, Lang::Ru, Lang::En}) {
    for (int k = -1; k <= 10; ++k) EXPECT_TRUE(safe(kindLabel(k, lang)));
    for (int z = -1; z <= 7; ++z) EXPECT_TRUE(safe(zoneLabel(z, lang)));
    for (const std::string_view s : {"OK", "ACCESS_DENIED", "PROVIDER_ERROR", "INTERNAL", "?"}) {
      EXPECT_TRUE(safe(outcomeLabel(s, lang)));
    }
    std::string header;
    appendCsvHeader(header, lang);
    for (const std::string& cell : onlyRow(header.substr(3))) EXPECT_TRUE(safe(cell)) << cell;
  }
  EXPECT_TRUE(safe(formatAlmatyTime(std::numeric_limits<std::int64_t>::min())));
}

TEST(CsvTimeTest, AlmatyIsUtcPlusFive) {
  EXPECT_EQ(formatAlmatyTime(kTime), "2026-11-23 17:17:01");
  EXPECT_EQ(formatAlmatyTime(0), "1970-01-01 05:00:00");
  EXPECT_EQ(formatAlmatyTime(-1), "1970-01-01 04:59:59");
  EXPECT_EQ(formatAlmatyTime(-18001), "1969-12-31 23:59:59");
  // Across midnight UTC: 20:30Z is already the next day in Almaty.
  EXPECT_EQ(formatAlmatyTime(1795465800), "2026-11-24 01:30:00");  // 2026-11-23T20:30:00Z
  EXPECT_EQ(formatAlmatyTime(1795460399), "2026-11-23 23:59:59");  // 18:59:59Z
  EXPECT_EQ(formatAlmatyTime(1795460400), "2026-11-24 00:00:00");  // 19:00:00Z
  // Across a year and a leap day.
  EXPECT_EQ(formatAlmatyTime(1798743600), "2027-01-01 00:00:00");  // 2026-12-31T19:00:00Z
  EXPECT_EQ(formatAlmatyTime(1835377200), "2028-02-29 00:00:00");  // 2028-02-28T19:00:00Z
  // Clamped to years 0001..9999.
  EXPECT_EQ(formatAlmatyTime(std::numeric_limits<std::int64_t>::max()), "9999-12-31 23:59:59");
  EXPECT_EQ(formatAlmatyTime(std::numeric_limits<std::int64_t>::min()), "0001-01-01 00:00:00");
  EXPECT_EQ(formatAlmatyTime(253402300799 - 18000), "9999-12-31 23:59:59");
  EXPECT_EQ(formatAlmatyTime(253402300799 - 18000 + 1), "9999-12-31 23:59:59");
  EXPECT_EQ(formatAlmatyTime(-62135596800 - 18000), "0001-01-01 00:00:00");
}

// Cross-checked against <chrono>'s calendar over 1900..2200, a step that is prime to a day.
TEST(CsvTimeTest, AgreesWithChronoCalendar) {
  using namespace std::chrono;
  int checked = 0;
  for (std::int64_t t = -2208988800; t < 7258118400; t += 86400 * 7 + 3607) {
    const sys_seconds local{seconds(t + 5 * 3600)};
    const auto day = floor<days>(local);
    const year_month_day ymd{day};
    const hh_mm_ss<seconds> hms{local - day};
    char expected[32];
    std::snprintf(expected, sizeof expected, "%04d-%02u-%02u %02d:%02d:%02d", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                  int(hms.minutes().count()), int(hms.seconds().count()));
    ASSERT_EQ(formatAlmatyTime(t), expected) << t;
    ++checked;
  }
  EXPECT_GT(checked, 10000);
}

TEST(CsvFileNameTest, AlmatyDate) {
  using std::chrono::seconds;
  using std::chrono::system_clock;
  EXPECT_EQ(csvFileName(system_clock::time_point(seconds(1795460399))),
            "qaqpa-events-20261123.csv");
  EXPECT_EQ(csvFileName(system_clock::time_point(seconds(1795460400))),
            "qaqpa-events-20261124.csv");
  // Just before the second ends is still that second (floor, also before 1970).
  EXPECT_EQ(
      csvFileName(system_clock::time_point(seconds(1795460400)) - std::chrono::microseconds(1)),
      "qaqpa-events-20261123.csv");
  EXPECT_EQ(csvFileName(system_clock::time_point(seconds(-18000)) - std::chrono::microseconds(1)),
            "qaqpa-events-19691231.csv");
}

TEST(CsvExportTest, HeaderAndRowsReadBack) {
  std::string out;
  appendCsvHeader(out, Lang::Kk);
  pb::DigitalEvent a = fullEvent();
  pb::DigitalEvent b = fullEvent();
  b.set_kind(pb::ACCESS_DENIED);
  b.set_status("CONSENT_REQUIRED");
  b.clear_provider();
  for (int i = 0; i < 3; ++i) appendCsvRow(out, i % 2 ? b : a, Lang::Kk);
  ASSERT_EQ(out.substr(0, 3), kUtf8Bom);
  EXPECT_EQ(out.find(kUtf8Bom, 3), std::string::npos) << "one BOM only";
  const auto rows = readCsv(std::string_view(out).substr(3));
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 4u);
  for (const Row& r : *rows) EXPECT_EQ(r.size(), kCsvColumns);
  EXPECT_EQ((*rows)[2][8], "Бас тартылды: сіздің келісіміңіз жоқ");
  EXPECT_EQ((*rows)[2][10], "");
}

}  // namespace
}  // namespace qaqpa::space_api
