#include "tools/demo_provider/dataset.h"

#include <boost/json.hpp>

namespace qaqpa::demo {

namespace json = boost::json;

std::optional<DatasetKind> parseDatasetKind(std::string_view name) noexcept {
  if (name == "population") return DatasetKind::Population;
  if (name == "legal-entity") return DatasetKind::LegalEntity;
  if (name == "tax") return DatasetKind::Tax;
  return std::nullopt;
}

std::string_view datasetName(DatasetKind kind) noexcept {
  switch (kind) {
    case DatasetKind::Population:
      return "population";
    case DatasetKind::LegalEntity:
      return "legal-entity";
    case DatasetKind::Tax:
      return "tax";
  }
  return "population";
}

const json::value* Dataset::find(std::string_view id) const noexcept {
  auto it = records.find(id);
  return it == records.end() ? nullptr : &it->second;
}

namespace {

// IIN layout: YYMMDD, then the century/sex digit (3 = male 1900s, 4 = female 1900s), a serial and
// the check digit; birth dates and sex below agree with the IINs.
void addPopulation(Dataset& d) {
  d.records["900101300017"] = json::value{
      {"iin", "900101300017"},
      {"surname", "Сейітов"},
      {"name", "Ерлан"},
      {"patronymic", "Болатұлы"},
      {"birthDate", "1990-01-01"},
      {"sex", "MALE"},
      {"citizenship", "KZ"},
      {"nationality", "қазақ"},
      {"lifeStatus", "ALIVE"},
      {"address",
       {{"country", "KZ"},
        {"region", "Алматы қаласы"},
        {"city", "Алматы"},
        {"district", "Медеу ауданы"},
        {"street", "Абай даңғылы"},
        {"building", "52"},
        {"apartment", "17"}}},
      {"document", {{"type", "ID_CARD"}, {"number", "047512389"}, {"expires", "2031-04-12"}}},
  };
  d.records["850506400003"] = json::value{
      {"iin", "850506400003"},
      {"surname", "Жұмабаева"},
      {"name", "Айгүл"},
      {"patronymic", "Нұрланқызы"},
      {"birthDate", "1985-05-06"},
      {"sex", "FEMALE"},
      {"citizenship", "KZ"},
      {"nationality", "қазақ"},
      {"lifeStatus", "ALIVE"},
      {"address",
       {{"country", "KZ"},
        {"region", "Астана қаласы"},
        {"city", "Астана"},
        {"district", "Есіл ауданы"},
        {"street", "Қабанбай батыр даңғылы"},
        {"building", "11"},
        {"apartment", "204"}}},
      {"document", {{"type", "ID_CARD"}, {"number", "039874561"}, {"expires", "2029-09-30"}}},
  };
  d.records["920315450126"] = json::value{
      {"iin", "920315450126"},
      {"surname", "Омарова"},
      {"name", "Дана"},
      {"patronymic", "Серікқызы"},
      {"birthDate", "1992-03-15"},
      {"sex", "FEMALE"},
      {"citizenship", "KZ"},
      {"nationality", "қазақ"},
      {"lifeStatus", "ALIVE"},
      {"address",
       {{"country", "KZ"},
        {"region", "Шымкент қаласы"},
        {"city", "Шымкент"},
        {"district", "Әл-Фараби ауданы"},
        {"street", "Тәуке хан даңғылы"},
        {"building", "34"},
        {"apartment", "8"}}},
      {"document", {{"type", "PASSPORT"}, {"number", "N12874403"}, {"expires", "2033-02-01"}}},
  };
}

// BIN layout: YYMM of registration, the entity type digit (4 = resident legal entity), ...; the
// registration dates below agree with the BINs.
void addLegalEntities(Dataset& d) {
  auto entity = [&](const char* bin, const char* kk, const char* ru, const char* form,
                    const char* registered, const char* address, const char* head_name,
                    const char* head_position, const char* oked) {
    d.records[bin] = json::value{
        {"bin", bin},
        {"name", {{"kk", kk}, {"ru", ru}}},
        {"legalForm", form},
        {"registrationDate", registered},
        {"status", "ACTIVE"},
        {"address", address},
        {"head", {{"fullName", head_name}, {"position", head_position}}},
        {"okedCode", oked},
    };
  };
  entity("240140000011", "Халықты тіркеу агенттігі (демо)",
         "Агентство регистрации населения (демо)", "STATE_INSTITUTION", "2024-01-15",
         "Астана қ., Есіл ауданы, Мәңгілік Ел даңғылы, 8", "Ахметов Дәурен Қайратұлы", "Төраға",
         "84110");
  entity("240140000041", "Заңды тұлғаларды тіркеу агенттігі (демо)",
         "Агентство регистрации юридических лиц (демо)", "STATE_INSTITUTION", "2024-01-22",
         "Астана қ., Есіл ауданы, Мәңгілік Ел даңғылы, 8", "Серікбаева Гүлнар Маратқызы", "Төраға",
         "84110");
  entity("240140000021", "Мемлекеттік кірістер қызметі (демо)",
         "Служба государственных доходов (демо)", "STATE_INSTITUTION", "2024-01-18",
         "Астана қ., Сарыарқа ауданы, Жеңіс даңғылы, 11", "Қасымов Нұржан Ерболұлы", "Төраға",
         "84110");
  entity("240140000031", "Әлеуметтік төлемдер орталығы (демо)", "Центр социальных выплат (демо)",
         "STATE_INSTITUTION", "2024-01-29", "Астана қ., Байқоңыр ауданы, Абай даңғылы, 33",
         "Тоқтарова Әсел Бекқызы", "Директор", "84300");
  entity("990340000014", "«Демо Банк» акционерлік қоғамы", "Акционерное общество «Демо Банк»",
         "JOINT_STOCK_COMPANY", "1999-03-10", "Алматы қ., Медеу ауданы, Достық даңғылы, 180",
         "Исабеков Талғат Маратұлы", "Басқарма төрағасы", "64191");
}

void addTax(Dataset& d) {
  auto no_debt = [&](const char* iin) {
    d.records[iin] = json::value{
        {"iin", iin},        {"taxpayerStatus", "REGISTERED"}, {"hasDebt", false},
        {"totalDebtKzt", 0}, {"debts", json::array{}},         {"asOf", "2026-01-15"},
    };
  };
  no_debt("900101300017");
  no_debt("920315450126");
  d.records["850506400003"] = json::value{
      {"iin", "850506400003"},
      {"taxpayerStatus", "REGISTERED"},
      {"hasDebt", true},
      {"totalDebtKzt", 4375},
      {"debts", json::array{json::object{
                    {"kbk", "104402"},
                    {"name",
                     {{"kk", "Жеке тұлғалардың мүлкіне салынатын салық"},
                      {"ru", "Налог на имущество физических лиц"}}},
                    {"taxAuthority", "6205"},
                    {"principalKzt", 4200},
                    {"penaltyKzt", 175},
                    {"dueDate", "2025-10-01"},
                }}},
      {"asOf", "2026-01-15"},
  };
}

}  // namespace

Dataset makeDataset(DatasetKind kind) {
  Dataset d;
  d.kind = kind;
  switch (kind) {
    case DatasetKind::Population:
      addPopulation(d);
      break;
    case DatasetKind::LegalEntity:
      addLegalEntities(d);
      break;
    case DatasetKind::Tax:
      addTax(d);
      break;
  }
  return d;
}

}  // namespace qaqpa::demo
