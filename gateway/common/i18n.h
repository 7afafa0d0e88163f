// Localized user-facing texts (kk default, ru, en) for problem titles and details.
// Pure functions over static tables; thread-safe; no allocation except the returned detail string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/common/failure.h"
#include "gateway/common/status.h"

namespace qaqpa::common {

enum class Lang : std::uint8_t { Kk, Ru, En };

// Picks the best of kk/ru/en from an Accept-Language value (RFC 9110 §12.5.4: q-values,
// language ranges such as "ru-RU", "*"); Kazakh when absent, empty, malformed or unmatched.
Lang parseAcceptLanguage(std::string_view header) noexcept;

std::string_view langTag(Lang lang) noexcept;  // "kk", "ru", "en"

// Problem title for a canonical code, e.g. "Access denied" / "Доступ запрещён" / "Қол жеткізуге
// тыйым салынған".
std::string_view title(StatusCode code, Lang lang) noexcept;

// Specific detail for a reason; `param` replaces "{}" in the template (if the template has one).
std::string detail(Reason reason, Lang lang, std::string_view param);

// Stable machine name of a reason ("NO_GRANT"), used in logs, metrics and the problem body.
std::string_view reasonName(Reason reason) noexcept;

}  // namespace qaqpa::common
