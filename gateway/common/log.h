// Minimal structured logger: one line per event, logfmt ("ts=... level=... msg=... k=v"), to
// stderr. Thread-safe (one write(2) per line, no locks). Never log payloads, IINs or key material
// at info level or above.
#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

namespace qaqpa::common {

enum class LogLevel { Debug, Info, Warn, Error };

void setLogLevel(LogLevel level) noexcept;
bool logEnabled(LogLevel level) noexcept;

using LogField = std::pair<std::string_view, std::string_view>;
void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

}  // namespace qaqpa::common
