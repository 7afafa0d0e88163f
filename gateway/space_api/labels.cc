#include "gateway/space_api/labels.h"

namespace qaqpa::space_api {
namespace {

// Columns in common::Lang order.
struct Words {
  std::string_view kk, ru, en;
  std::string_view pick(common::Lang lang) const noexcept {
    switch (lang) {
      case common::Lang::Kk:
        return kk;
      case common::Lang::Ru:
        return ru;
      case common::Lang::En:
        return en;
    }
    return kk;
  }
};

// Index = the Kind value.
constexpr Words kKinds[] = {
    {"Басқа оқиға", "Другое событие", "Other event"},
    {"Деректер пайдаланылды", "Данные использованы", "Data used"},
    {"Қол жеткізуден бас тартылды", "В доступе отказано", "Access refused"},
    {"Деректер жеткізілмеді", "Данные не доставлены", "Data not delivered"},
    {"Келісім берілді", "Согласие дано", "Consent granted"},
    {"Келісім қайтарып алынды", "Согласие отозвано", "Consent revoked"},
    {"Деректер шетелге берілді", "Данные переданы за рубеж", "Data sent abroad"},
    {"Қолжетімділік ережелері өзгертілді", "Правила доступа изменены", "Access rules changed"},
    {"Оператор журналды қарады", "Оператор просмотрел журнал", "Operator viewed the journal"},
    {"Сұрау жеткізуге қабылданды", "Запрос принят к доставке", "Request accepted for delivery"},
};

// Index = the Zone value.
constexpr Words kZones[] = {
    {"Көрсетілмеген", "Не указано", "Not specified"},
    {"Мемлекеттік жүйелер", "Государственные системы", "State systems"},
    {"Мемлекеттік емес жүйелер", "Негосударственные системы", "Non-state systems"},
    {"Халықаралық алмасу", "Международный обмен", "International exchange"},
    {"Цифрлық кеңістік", "Цифровое пространство", "Digital space"},
    {"Шлюз операторы", "Оператор шлюза", "Gateway operator"},
};

struct Outcome {
  std::string_view status;
  Words words;
};

constexpr Words kNotDelivered = {"Жеткізілмеді", "Не доставлено", "Not delivered"};

constexpr Outcome kOutcomes[] = {
    {"OK", {"Берілді", "Предоставлено", "Provided"}},
    {"ACCEPTED", {"Қабылданды", "Принято", "Accepted"}},
    {"ACCESS_DENIED",
     {"Бас тартылды: рұқсат жоқ", "Отказано: нет разрешения", "Refused: no permission"}},
    {"CONSENT_REQUIRED",
     {"Бас тартылды: сіздің келісіміңіз жоқ", "Отказано: нет вашего согласия",
      "Refused: no consent from you"}},
    {"AUTH_FAILED",
     {"Бас тартылды: сұраушы расталмады", "Отказано: запрашивающий не подтверждён",
      "Refused: requester not authenticated"}},
    {"SIGNATURE_INVALID",
     {"Бас тартылды: қолтаңба жарамсыз", "Отказано: недействительная подпись",
      "Refused: invalid signature"}},
    {"VALIDATION_FAILED",
     {"Бас тартылды: сұрау қате", "Отказано: некорректный запрос", "Refused: invalid request"}},
    {"SERVICE_NOT_FOUND",
     {"Бас тартылды: сервис табылмады", "Отказано: сервис не найден",
      "Refused: service not found"}},
    {"RATE_LIMITED",
     {"Бас тартылды: сұраулар тым көп", "Отказано: слишком много запросов",
      "Refused: too many requests"}},
    {"DUPLICATE",
     {"Бас тартылды: қайталанған сұрау", "Отказано: повторный запрос",
      "Refused: repeated request"}},
    {"PROVIDER_ERROR", kNotDelivered},
    {"PROVIDER_UNAVAILABLE", kNotDelivered},
    {"PROVIDER_TIMEOUT", kNotDelivered},
    {"INTERNAL",
     {"Орындалмады: шлюз қатесі", "Не выполнено: ошибка шлюза", "Not completed: gateway error"}},
};

constexpr Words kUnknownOutcome = {"Нәтижесі белгісіз", "Результат неизвестен", "Outcome unknown"};

template <std::size_t N>
std::string_view byIndex(const Words (&table)[N], int value, common::Lang lang) noexcept {
  const auto i = (value > 0 && static_cast<std::size_t>(value) < N)
                     ? static_cast<std::size_t>(value)
                     : std::size_t{0};
  return table[i].pick(lang);
}

}  // namespace

std::string_view kindLabel(int kind, common::Lang lang) noexcept {
  return byIndex(kKinds, kind, lang);
}

std::string_view zoneLabel(int zone, common::Lang lang) noexcept {
  return byIndex(kZones, zone, lang);
}

std::string_view outcomeLabel(std::string_view status_code, common::Lang lang) noexcept {
  for (const Outcome& o : kOutcomes) {
    if (o.status == status_code) return o.words.pick(lang);
  }
  return kUnknownOutcome.pick(lang);
}

}  // namespace qaqpa::space_api
