#include "gateway/common/i18n.h"

#include <cstddef>
#include <optional>

namespace qaqpa::common {
namespace {

// One row per enum value, columns in Lang order. The switches below have no `default`, so
// -Wswitch flags a StatusCode or Reason added without its texts.
struct Texts {
  std::string_view kk, ru, en;
  std::string_view pick(Lang lang) const noexcept {
    switch (lang) {
      case Lang::Kk:
        return kk;
      case Lang::Ru:
        return ru;
      case Lang::En:
        return en;
    }
    return kk;
  }
};

constexpr Texts titleTexts(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::Ok:
      return {"Сәтті орындалды", "Успешно", "OK"};
    case StatusCode::Accepted:
      return {"Сұрау қабылданды", "Запрос принят", "Accepted"};
    case StatusCode::ValidationFailed:
      return {"Сұрау тексеруден өтпеді", "Запрос не прошёл проверку", "Validation failed"};
    case StatusCode::AuthFailed:
      return {"Аутентификация сәтсіз аяқталды", "Ошибка аутентификации", "Authentication failed"};
    case StatusCode::SignatureInvalid:
      return {"Қолтаңба жарамсыз", "Недействительная подпись", "Invalid signature"};
    case StatusCode::AccessDenied:
      return {"Қол жеткізуге тыйым салынған", "Доступ запрещён", "Access denied"};
    case StatusCode::ConsentRequired:
      return {"Субъектінің келісімі қажет", "Требуется согласие субъекта", "Consent required"};
    case StatusCode::ServiceNotFound:
      return {"Сервис табылмады", "Сервис не найден", "Service not found"};
    case StatusCode::Duplicate:
      return {"Қайталанған хабарлама", "Повторное сообщение", "Duplicate message"};
    case StatusCode::RateLimited:
      return {"Сұраулар тым көп", "Слишком много запросов", "Too many requests"};
    case StatusCode::ProviderError:
      return {"Сервис жеткізушісінің қатесі", "Ошибка поставщика сервиса", "Provider error"};
    case StatusCode::ProviderUnavailable:
      return {"Сервис жеткізушісі қолжетімсіз", "Поставщик сервиса недоступен",
              "Provider unavailable"};
    case StatusCode::ProviderTimeout:
      return {"Сервис жеткізушісінің жауап күту уақыты өтті",
              "Истекло время ожидания ответа поставщика сервиса", "Provider timeout"};
    case StatusCode::Internal:
      return {"Ішкі қате", "Внутренняя ошибка", "Internal error"};
  }
  return {"Ішкі қате", "Внутренняя ошибка", "Internal error"};
}

struct ReasonRow {
  std::string_view name;
  Texts detail;
};

// Details are public (RFC 9457 "detail"): they name what the client can fix and never say how
// the gateway is built. "{}" marks where Failure::param goes.
constexpr ReasonRow reasonRow(Reason reason) noexcept {
  switch (reason) {
    case Reason::MalformedRequest:
      return {"MALFORMED_REQUEST",
              {"HTTP сұрауын талдау мүмкін болмады", "Не удалось разобрать HTTP-запрос",
               "The HTTP request could not be parsed"}};
    case Reason::HeaderTooLarge:
      return {"HEADER_TOO_LARGE",
              {"Сұрау тақырыптарының көлемі рұқсат етілген шектен асып кетті",
               "Размер заголовков запроса превышает допустимый предел",
               "The request headers exceed the allowed size"}};
    case Reason::BodyTooLarge:
      return {"BODY_TOO_LARGE",
              {"Сұрау денесінің көлемі рұқсат етілген шектен асып кетті",
               "Размер тела запроса превышает допустимый предел",
               "The request body exceeds the allowed size"}};
    case Reason::MissingHeader:
      return {"MISSING_HEADER",
              {"{} тақырыбы міндетті", "Требуется заголовок {}", "Header {} is required"}};
    case Reason::InvalidHeader:
      return {"INVALID_HEADER",
              {"{} тақырыбының мәні жарамсыз", "Недопустимое значение заголовка {}",
               "Header {} has an invalid value"}};
    case Reason::DuplicateHeader:
      return {"DUPLICATE_HEADER",
              {"{} тақырыбы бір реттен артық берілген", "Заголовок {} указан более одного раза",
               "Header {} must not be repeated"}};
    case Reason::InvalidSubjectChecksum:
      return {"INVALID_SUBJECT_CHECKSUM",
              {"{} тақырыбындағы ЖСН/БСН бақылау цифры қате",
               "В заголовке {} указан ИИН/БИН с неверной контрольной цифрой",
               "Header {} contains an IIN/BIN with an invalid check digit"}};
    case Reason::InvalidServiceId:
      return {"INVALID_SERVICE_ID",
              {"Сервис идентификаторы жарамсыз: {}", "Недопустимый идентификатор сервиса: {}",
               "Invalid service id: {}"}};
    case Reason::InvalidPath:
      return {"INVALID_PATH",
              {"Сұрау жолы жарамсыз: ол /v1/services/ деп басталуы және рұқсат етілмеген "
               "таңбаларды қамтымауы тиіс",
               "Недопустимый путь запроса: он должен начинаться с /v1/services/ и не содержать "
               "запрещённых символов",
               "Invalid request path: it must start with /v1/services/ and contain no forbidden "
               "characters"}};
    case Reason::MethodNotAllowed:
      return {"METHOD_NOT_ALLOWED",
              {"{} әдісіне рұқсат етілмеген", "Метод {} не разрешён", "Method {} is not allowed"}};
    case Reason::InvalidBody:
      return {"INVALID_BODY",
              {"Сұрау денесінде {} өрісі жоқ немесе қате",
               "В теле запроса поле {} отсутствует или неверно",
               "Field {} of the request body is missing or invalid"}};
    case Reason::InvalidQuery:
      return {"INVALID_QUERY",
              {"Сұрау жолындағы {} параметрі белгісіз, қайталанған немесе қате",
               "Параметр {} строки запроса неизвестен, повторён или неверен",
               "Query parameter {} is unknown, repeated or invalid"}};
    case Reason::ConsentLimitReached:
      return {"CONSENT_LIMIT_REACHED",
              {"Белсенді келісімдердің ең көп саны берілген; алдымен біреуін кері қайтарып алыңыз",
               "Выдано максимальное число действующих согласий; сначала отзовите одно из них",
               "You already have the maximum number of active consents; revoke one first"}};
    case Reason::ClientUnknown:
      return {"CLIENT_UNKNOWN",
              {"{} клиент жүйесі тіркелмеген", "Клиентская система {} не зарегистрирована",
               "Client system {} is not registered"}};
    case Reason::ClientWrongZone:
      return {"CLIENT_WRONG_ZONE",
              {"{} клиент жүйесі бұл аймақта тіркелмеген",
               "Клиентская система {} не зарегистрирована в этой зоне",
               "Client system {} is not registered in this zone"}};
    case Reason::ClientNotProven:
      return {"CLIENT_NOT_PROVEN",
              {"Клиенттің сәйкестігі сертификатпен немесе қолтаңбамен расталмаған",
               "Подлинность клиента не подтверждена сертификатом или подписью",
               "The client identity is not proven by a certificate or a signature"}};
    case Reason::ClientCertMismatch:
      return {"CLIENT_CERT_MISMATCH",
              {"Клиенттің TLS сертификаты {} жүйесіне тиесілі емес",
               "TLS-сертификат клиента не принадлежит системе {}",
               "The client's TLS certificate does not belong to system {}"}};
    case Reason::ClientCertUnknown:
      return {"CLIENT_CERT_UNKNOWN",
              {"Клиенттің TLS сертификаты тіркелген ешбір жүйеге байланыстырылмаған",
               "TLS-сертификат клиента не сопоставлен ни одной зарегистрированной системе",
               "The client's TLS certificate is not mapped to any registered system"}};
    case Reason::SignatureKeyMismatch:
      return {"SIGNATURE_KEY_MISMATCH",
              {"Сұрау қолтаңбасының кілті {} жүйесіне тиесілі емес",
               "Ключ подписи запроса не принадлежит системе {}",
               "The request signature's key does not belong to system {}"}};
    case Reason::TokenMissing:
      return {"TOKEN_MISSING",
              {"Кіру керек: Authorization: Bearer тақырыбы жоқ",
               "Требуется вход: нет заголовка Authorization: Bearer",
               "Sign in first: no Authorization: Bearer header"}};
    case Reason::TokenMalformed:
      return {"TOKEN_MALFORMED",
              {"Кіру токенінің пішімі қате", "Токен входа имеет неверный формат",
               "The sign-in token is malformed"}};
    case Reason::TokenTooLarge:
      return {
          "TOKEN_TOO_LARGE",
          {"Кіру токені тым үлкен", "Токен входа слишком велик", "The sign-in token is too large"}};
    case Reason::TokenAlgRefused:
      return {"TOKEN_ALG_REFUSED",
              {"Токен қабылданбайтын алгоритммен қол қойылған (тек EdDSA немесе ES256)",
               "Токен подписан недопустимым алгоритмом (только EdDSA или ES256)",
               "The token is signed with a refused algorithm (only EdDSA or ES256)"}};
    case Reason::TokenHeaderRefused:
      return {"TOKEN_HEADER_REFUSED",
              {"Токен тақырыбында рұқсат етілмеген параметр бар",
               "Заголовок токена содержит недопустимый параметр",
               "The token header carries a refused parameter"}};
    case Reason::TokenIssuerUnknown:
      return {"TOKEN_ISSUER_UNKNOWN",
              {"Токенді сенімді сәйкестендіру провайдері бермеген",
               "Токен выдан не доверенным поставщиком идентификации",
               "The token was not issued by a trusted identity provider"}};
    case Reason::TokenKeyUnknown:
      return {"TOKEN_KEY_UNKNOWN",
              {"Токен провайдердің белгісіз кілтімен қол қойылған",
               "Токен подписан неизвестным ключом поставщика",
               "The token is signed with a key the provider does not have"}};
    case Reason::TokenSignatureInvalid:
      return {"TOKEN_SIGNATURE_INVALID",
              {"Токеннің қолтаңбасы жарамсыз", "Подпись токена недействительна",
               "The token's signature is invalid"}};
    case Reason::TokenClaimsInvalid:
      return {"TOKEN_CLAIMS_INVALID",
              {"Токеннің мерзімдері (exp, iat) жоқ немесе қате",
               "Сроки токена (exp, iat) отсутствуют или неверны",
               "The token's times (exp, iat) are missing or invalid"}};
    case Reason::TokenAudienceMismatch:
      return {"TOKEN_AUDIENCE_MISMATCH",
              {"Токен цифрлық кеңістікке арналмаған", "Токен выдан не для цифрового пространства",
               "The token was not issued for the digital space"}};
    case Reason::TokenExpired:
      return {"TOKEN_EXPIRED",
              {"Кіру мерзімі өтті; қайта кіріңіз", "Срок входа истёк; войдите снова",
               "Your sign-in has expired; sign in again"}};
    case Reason::TokenNotYetValid:
      return {"TOKEN_NOT_YET_VALID",
              {"Токен әлі жарамды емес; құрылғының сағатын тексеріңіз",
               "Токен ещё не действителен; проверьте часы устройства",
               "The token is not valid yet; check your device's clock"}};
    case Reason::TokenLifetimeTooLong:
      return {"TOKEN_LIFETIME_TOO_LONG",
              {"Токеннің жарамдылық мерзімі рұқсат етілгеннен ұзақ",
               "Срок действия токена длиннее допустимого",
               "The token's lifetime is longer than allowed"}};
    case Reason::TokenSubjectInvalid:
      return {"TOKEN_SUBJECT_INVALID",
              {"Токенде азаматтың дұрыс ЖСН-і жоқ", "В токене нет корректного ИИН гражданина",
               "The token does not name a citizen by a valid IIN"}};
    case Reason::SignatureMissing:
      return {"SIGNATURE_MISSING",
              {"Бұл жүйенің сұраулары қол қойылуы тиіс: Signature-Input, Signature және "
               "Content-Digest тақырыптарын беріңіз",
               "Запросы этой системы должны быть подписаны: укажите заголовки Signature-Input, "
               "Signature и Content-Digest",
               "Requests of this system must be signed: send Signature-Input, Signature and "
               "Content-Digest"}};
    case Reason::SignatureMalformed:
      return {"SIGNATURE_MALFORMED",
              {"Signature-Input немесе Signature тақырыбы қате: created, keyid, alg параметрлері "
               "және сұрауда бар компоненттер қажет",
               "Заголовок Signature-Input или Signature некорректен: нужны параметры created, "
               "keyid, alg и компоненты, присутствующие в запросе",
               "Signature-Input or Signature is malformed: created, keyid and alg are required "
               "and every covered component must be present in the request"}};
    case Reason::SignatureKeyUnknown:
      return {"SIGNATURE_KEY_UNKNOWN",
              {"Қолтаңба кілті (keyid) бұл клиент жүйесі үшін тіркелмеген",
               "Ключ подписи (keyid) не зарегистрирован для этой клиентской системы",
               "The signature key (keyid) is not registered for this client system"}};
    case Reason::SignatureAlgUnsupported:
      return {"SIGNATURE_ALG_UNSUPPORTED",
              {"Қолтаңба алгоритміне қолдау көрсетілмейді; ed25519 немесе ecdsa-p256-sha256 "
               "пайдаланыңыз",
               "Алгоритм подписи не поддерживается; используйте ed25519 или ecdsa-p256-sha256",
               "The signature algorithm is not supported; use ed25519 or ecdsa-p256-sha256"}};
    case Reason::SignatureAlgMismatch:
      return {"SIGNATURE_ALG_MISMATCH",
              {"Қолтаңбаның alg параметрі тіркелген кілттің алгоритміне сәйкес келмейді",
               "Параметр alg подписи не соответствует алгоритму зарегистрированного ключа",
               "The signature's alg does not match the registered key's algorithm"}};
    case Reason::SignatureStale:
      return {"SIGNATURE_STALE",
              {"Қолтаңба тым ерте жасалған: created уақыты 300 секундтан ескі",
               "Подпись создана слишком давно: время created старше 300 секунд",
               "The signature is too old: created is more than 300 seconds in the past"}};
    case Reason::SignatureFromFuture:
      return {"SIGNATURE_FROM_FUTURE",
              {"Қолтаңбаның created уақыты 300 секундтан көп алда; сағатты тексеріңіз",
               "Время created подписи опережает более чем на 300 секунд; проверьте часы",
               "The signature's created time is more than 300 seconds ahead; check the clock"}};
    case Reason::SignatureExpired:
      return {"SIGNATURE_EXPIRED",
              {"Қолтаңбаның мерзімі (expires) өтіп кеткен", "Срок действия подписи (expires) истёк",
               "The signature has expired (expires)"}};
    case Reason::SignatureComponentMissing:
      return {"SIGNATURE_COMPONENT_MISSING",
              {"Қолтаңба міндетті {} компонентін қамтымайды",
               "Подпись не охватывает обязательный компонент {}",
               "The signature does not cover the required component {}"}};
    case Reason::SignatureDigestMismatch:
      return {"SIGNATURE_DIGEST_MISMATCH",
              {"Content-Digest тақырыбы жоқ, қате немесе сұрау денесіне сәйкес келмейді",
               "Заголовок Content-Digest отсутствует, некорректен или не совпадает с телом запроса",
               "Content-Digest is missing, malformed or does not match the request body"}};
    case Reason::SignatureNotVerified:
      return {"SIGNATURE_NOT_VERIFIED",
              {"Сұрау қолтаңбасы тіркелген кілтпен расталмады",
               "Подпись запроса не подтверждается зарегистрированным ключом",
               "The request signature does not verify with the registered key"}};
    case Reason::ServiceNotExposed:
      return {"SERVICE_NOT_EXPOSED",
              {"{} сервисі бұл аймақта қолжетімсіз", "Сервис {} недоступен в этой зоне",
               "Service {} is not available in this zone"}};
    case Reason::NoGrant:
      return {"NO_GRANT",
              {"Клиентте {} сервисіне қол жеткізу рұқсаты жоқ",
               "У клиента нет разрешения на доступ к сервису {}",
               "The client has no access grant for service {}"}};
    case Reason::PurposeNotAllowed:
      return {
          "PURPOSE_NOT_ALLOWED",
          {"{} мақсатына бұл сервис үшін рұқсат берілмеген",
           "Цель {} не разрешена для этого сервиса", "Purpose {} is not allowed for this service"}};
    case Reason::GrantNotActive:
      return {"GRANT_NOT_ACTIVE",
              {"{} сервисіне рұқсат қазір әрекет етпейді (мерзімі немесе кестесі бойынша)",
               "Разрешение на сервис {} сейчас не действует (по сроку или расписанию)",
               "Access to service {} is not in effect now (validity period or schedule)"}};
    case Reason::DemoCitizenUnknown:
      return {"DEMO_CITIZEN_UNKNOWN",
              {"Бұл ЖСН демо-азаматтар тізімінде жоқ", "Этого ИИН нет в списке демо-граждан",
               "This IIN is not one of the demo citizens"}};
    case Reason::ConsentMissing:
      return {"CONSENT_MISSING",
              {"Бұл сұрауға деректер субъектісінің келісімі қажет: Qaqpa-Consent тақырыбында "
               "келісім идентификаторын беріңіз",
               "Для этого запроса требуется согласие субъекта данных: укажите идентификатор "
               "согласия в заголовке Qaqpa-Consent",
               "This request needs the data subject's consent: give the consent id in the "
               "Qaqpa-Consent header"}};
    case Reason::ConsentNotFound:
      return {"CONSENT_NOT_FOUND",
              {"Осы субъект пен жүйе үшін мұндай келісім табылмады",
               "Такое согласие для этого субъекта и системы не найдено",
               "No such consent exists for this subject and system"}};
    case Reason::ConsentRevoked:
      return {"CONSENT_REVOKED",
              {"Деректер субъектісі бұл келісімді қайтарып алды",
               "Субъект данных отозвал это согласие", "The data subject has revoked this consent"}};
    case Reason::ConsentExpired:
      return {"CONSENT_EXPIRED",
              {"Келісімнің мерзімі өтіп кеткен", "Срок действия согласия истёк",
               "The consent has expired"}};
    case Reason::ConsentMismatch:
      return {"CONSENT_MISMATCH",
              {"Келісім бұл сервисті немесе мақсатты қамтымайды",
               "Согласие не распространяется на этот сервис или цель",
               "The consent does not cover this service or purpose"}};
    case Reason::RateExceeded:
      return {"RATE_EXCEEDED",
              {"Рұқсат етілген сұраулар жиілігінен асып кетті; Retry-After уақытынан кейін "
               "қайталаңыз",
               "Превышена разрешённая частота запросов; повторите после Retry-After",
               "The allowed request rate is exceeded; retry after Retry-After"}};
    case Reason::ConcurrencyExceeded:
      return {"CONCURRENCY_EXCEEDED",
              {"Бір мезгілдегі сұраулар саны шектен асты; кейінірек қайталаңыз",
               "Превышено число одновременных запросов; повторите позже",
               "Too many concurrent requests; retry later"}};
    case Reason::MessageReplayed:
      return {"MESSAGE_REPLAYED",
              {"Бұл Qaqpa-Message-Id осы жүйеден жақында келіп түскен; жаңа хабарламаға жаңа "
               "идентификатор беріңіз",
               "Это значение Qaqpa-Message-Id уже недавно получено от этой системы; для нового "
               "сообщения укажите новый идентификатор",
               "This Qaqpa-Message-Id was already received from this system recently; give a new "
               "message a new id"}};
    case Reason::MessageIdConflict:
      return {"MESSAGE_ID_CONFLICT",
              {"Бұл Qaqpa-Message-Id басқа сұраумен жіберілген; жаңа хабарламаға жаңа "
               "идентификатор беріңіз",
               "Это значение Qaqpa-Message-Id уже отправлено с другим запросом; для нового "
               "сообщения укажите новый идентификатор",
               "This Qaqpa-Message-Id was already submitted with a different request; give a new "
               "message a new id"}};
    case Reason::MessageFinal:
      return {"MESSAGE_FINAL",
              {"Хабарламаны жеткізу аяқталған, оны тоқтату мүмкін емес",
               "Доставка сообщения уже завершена, её нельзя остановить",
               "The message's delivery has already ended; it cannot be stopped"}};
    case Reason::ServiceUnknown:
      return {"SERVICE_UNKNOWN",
              {"{} сервисі табылмады", "Сервис {} не найден", "Service {} does not exist"}};
    case Reason::RouteUnknown:
      return {"ROUTE_UNKNOWN",
              {"Сұралған ресурс табылмады", "Запрошенный ресурс не найден",
               "No such endpoint on this listener"}};
    case Reason::EventNotFound:
      return {"EVENT_NOT_FOUND",
              {"Сізде мұндай цифрлық оқиға жоқ", "У вас нет такого цифрового события",
               "You have no digital event with this id"}};
    case Reason::ConsentIdUnknown:
      return {"CONSENT_ID_UNKNOWN",
              {"Сізде мұндай келісім жоқ", "У вас нет такого согласия",
               "You have no consent with this id"}};
    case Reason::AsyncNotEnabled:
      return {
          "ASYNC_NOT_ENABLED",
          {"Бұл шлюзде асинхронды алмасу қосылмаған", "Асинхронный обмен на этом шлюзе не включён",
           "The asynchronous exchange is not enabled on this gateway"}};
    case Reason::MessageUnknown:
      return {"MESSAGE_UNKNOWN",
              {"Сізде мұндай хабарлама жоқ", "У вас нет такого сообщения",
               "You have no message with this id"}};
    case Reason::ProviderBadResponse:
      return {"PROVIDER_BAD_RESPONSE",
              {"Сервис жеткізушісі жарамсыз жауап қайтарды",
               "Поставщик сервиса вернул некорректный ответ",
               "The provider returned an invalid response"}};
    case Reason::ProviderServerError:
      return {
          "PROVIDER_SERVER_ERROR",
          {"Сервис жеткізушісі сұрауды өңдей алмады", "Поставщик сервиса не смог обработать запрос",
           "The provider failed to process the request"}};
    case Reason::ProviderUnreachable:
      return {"PROVIDER_UNREACHABLE",
              {"Сервис жеткізушісімен байланыс жоқ, кейінірек қайталап көріңіз",
               "Нет связи с поставщиком сервиса, повторите попытку позже",
               "The provider cannot be reached; try again later"}};
    case Reason::ProviderDeadline:
      return {"PROVIDER_DEADLINE",
              {"Сервис жеткізушісі белгіленген уақытта жауап бермеді",
               "Поставщик сервиса не ответил в установленное время",
               "The provider did not respond in time"}};
    case Reason::Overloaded:
      return {"OVERLOADED",
              {"Шлюз шамадан тыс жүктелген, кейінірек қайталап көріңіз",
               "Шлюз перегружен, повторите попытку позже",
               "The gateway is overloaded; try again later"}};
    case Reason::ShuttingDown:
      return {"SHUTTING_DOWN",
              {"Шлюз жұмысын аяқтап жатыр, кейінірек қайталап көріңіз",
               "Шлюз завершает работу, повторите попытку позже",
               "The gateway is shutting down; try again later"}};
    case Reason::StoreUnavailable:
      return {"STORE_UNAVAILABLE",
              {"Деректер қоймасы қазір қолжетімсіз; кейінірек қайталаңыз",
               "Хранилище данных сейчас недоступно; повторите позже",
               "The data store is unavailable now; try again later"}};
    case Reason::JournalUnavailable:
      return {"JOURNAL_UNAVAILABLE",
              {"Цифрлық оқиғаны сақтау мүмкін емес, сұрау орындалмады; кейінірек қайталаңыз",
               "Невозможно сохранить цифровое событие, запрос не выполнен; повторите позже",
               "The digital event of this call cannot be recorded, so the call was not "
               "completed; try again later"}};
    case Reason::IndexUnavailable:
      return {"INDEX_UNAVAILABLE",
              {"Оқиғалар тізімі дайындалып жатыр; бірнеше секундтан кейін қайталаңыз",
               "Список событий готовится; повторите через несколько секунд",
               "Your events are being prepared; try again in a few seconds"}};
    case Reason::ConsentStoreUnavailable:
      return {"CONSENT_STORE_UNAVAILABLE",
              {"Келісімдер қоймасы қазір жауап бермейді; кейінірек қайталаңыз",
               "Хранилище согласий сейчас не отвечает; повторите позже",
               "The consent store is not answering now; try again later"}};
    case Reason::AsyncStoreUnavailable:
      return {"ASYNC_STORE_UNAVAILABLE",
              {"Хабарламаны сақтау мүмкін болмады, ол қабылданбады; кейінірек қайталаңыз",
               "Сообщение не удалось сохранить, оно не принято; повторите позже",
               "The message could not be stored, so it was not accepted; try again later"}};
    case Reason::AsyncQueueFull:
      return {"ASYNC_QUEUE_FULL",
              {"Асинхронды хабарламалар кезегі толы; кейінірек қайталаңыз",
               "Очередь асинхронных сообщений заполнена; повторите позже",
               "The queue of asynchronous messages is full; try again later"}};
    case Reason::InternalError:
      return {"INTERNAL_ERROR",
              {"Шлюзде ішкі қате орын алды", "Во шлюзе произошла внутренняя ошибка",
               "An internal error occurred in the gateway"}};
  }
  return {"INTERNAL_ERROR",
          {"Шлюзде ішкі қате орын алды", "Во шлюзе произошла внутренняя ошибка",
           "An internal error occurred in the gateway"}};
}

// --- Accept-Language (RFC 9110 §12.5.4, §12.4.2; RFC 4647 §2.1 language-range) ---

constexpr bool isOws(char c) noexcept { return c == ' ' || c == '\t'; }
constexpr bool isAlpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool isDigit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr char toLower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

std::string_view trimOws(std::string_view s) noexcept {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}

bool equalsIgnoreCase(std::string_view a, std::string_view lower) noexcept {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (toLower(a[i]) != lower[i]) return false;
  }
  return true;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), as thousandths; -1 if malformed.
int parseQvalue(std::string_view s) noexcept {
  if (s.empty() || (s[0] != '0' && s[0] != '1')) return -1;
  int value = (s[0] - '0') * 1000;
  if (s.size() == 1) return value;
  if (s[1] != '.' || s.size() > 5) return -1;
  int scale = 100;
  for (std::size_t i = 2; i < s.size(); ++i, scale /= 10) {
    if (!isDigit(s[i])) return -1;
    value += (s[i] - '0') * scale;
  }
  return value > 1000 ? -1 : value;
}

// language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*". Returns false if malformed; otherwise
// `lang` is set when the primary subtag is one we serve.
bool matchRange(std::string_view range, std::optional<Lang>& lang) noexcept {
  lang.reset();
  if (range == "*") {
    lang = Lang::Kk;
    return true;
  }
  const std::size_t dash = range.find('-');
  const std::string_view primary = range.substr(0, dash);
  if (primary.empty() || primary.size() > 8) return false;
  for (char c : primary) {
    if (!isAlpha(c)) return false;
  }
  if (dash != std::string_view::npos) {
    std::string_view rest = range.substr(dash + 1);
    while (true) {
      const std::size_t next = rest.find('-');
      const std::string_view sub = rest.substr(0, next);
      if (sub.empty() || sub.size() > 8) return false;
      for (char c : sub) {
        if (!isAlpha(c) && !isDigit(c)) return false;
      }
      if (next == std::string_view::npos) break;
      rest.remove_prefix(next + 1);
    }
  }
  if (equalsIgnoreCase(primary, "kk")) {
    lang = Lang::Kk;
  } else if (equalsIgnoreCase(primary, "ru")) {
    lang = Lang::Ru;
  } else if (equalsIgnoreCase(primary, "en")) {
    lang = Lang::En;
  }
  return true;
}

// One list element: language-range [ OWS ";" OWS "q=" qvalue ]. Returns the weight in
// thousandths, or -1 when the element is malformed or names a language we do not serve.
int parseElement(std::string_view element, Lang& lang) noexcept {
  element = trimOws(element);
  const std::size_t semi = element.find(';');
  const std::string_view range = trimOws(element.substr(0, semi));
  std::optional<Lang> matched;
  if (!matchRange(range, matched)) return -1;
  int q = 1000;
  if (semi != std::string_view::npos) {
    const std::string_view weight = trimOws(element.substr(semi + 1));
    if (weight.size() < 2 || toLower(weight[0]) != 'q' || weight[1] != '=') return -1;
    q = parseQvalue(weight.substr(2));
    if (q < 0) return -1;
  }
  if (!matched) return -1;
  lang = *matched;
  return q;
}

}  // namespace

Lang parseAcceptLanguage(std::string_view header) noexcept {
  Lang best = Lang::Kk;
  int best_q = 0;  // q=0 means "not acceptable", so it can never win
  while (true) {
    const std::size_t comma = header.find(',');
    Lang lang;
    const int q = parseElement(header.substr(0, comma), lang);
    // Strictly greater: on equal weights the earlier range keeps its place.
    if (q > best_q) {
      best_q = q;
      best = lang;
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return best;
}

std::string_view langTag(Lang lang) noexcept {
  switch (lang) {
    case Lang::Kk:
      return "kk";
    case Lang::Ru:
      return "ru";
    case Lang::En:
      return "en";
  }
  return "kk";
}

std::string_view title(StatusCode code, Lang lang) noexcept { return titleTexts(code).pick(lang); }

std::string detail(Reason reason, Lang lang, std::string_view param) {
  const std::string_view tmpl = reasonRow(reason).detail.pick(lang);
  const std::size_t at = tmpl.find("{}");
  if (at == std::string_view::npos) return std::string(tmpl);
  std::string out;
  out.reserve(tmpl.size() - 2 + param.size());
  out.append(tmpl.substr(0, at));
  out.append(param);
  out.append(tmpl.substr(at + 2));
  return out;
}

std::string_view reasonName(Reason reason) noexcept { return reasonRow(reason).name; }

}  // namespace qaqpa::common
