#include "gateway/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <ctime>

namespace qaqpa::common {
namespace {

// Relaxed is enough: the level is a filter, not a synchronisation point; a worker seeing a
// level change a few lines late is harmless.
std::atomic<LogLevel> min_level{LogLevel::Info};

// A line no longer than PIPE_BUF (4096 on Linux) is written atomically to a pipe, so lines from
// different threads never interleave when stderr is a pipe to a log collector. Longer lines are
// cut (at a UTF-8 boundary) and marked, rather than split across writes.
constexpr std::size_t kMaxLine = 4096;
constexpr std::string_view kTruncatedTail = " truncated=true\n";
// Room kept back for a value's closing quote plus the tail, so both always fit.
constexpr std::size_t kReserve = 1 + kTruncatedTail.size();

std::string_view levelName(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "info";
}

// Length of the UTF-8 sequence at s[i], and whether it is printable. Invalid bytes (stray
// continuation, overlong, surrogate, truncated sequence) come back as a single unprintable byte,
// so the caller escapes them and the line stays valid UTF-8.
struct Unit {
  std::size_t len;
  bool printable;
};

Unit utf8Unit(std::string_view s, std::size_t i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {1, b0 >= 0x20 && b0 != 0x7F};
  auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    if (i + k >= s.size()) return false;
    const auto b = static_cast<unsigned char>(s[i + k]);
    return b >= lo && b <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!cont(1)) return {1, false};
    // U+0080..U+009F are C1 control characters.
    return {2, !(b0 == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0x9F)};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const unsigned char lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = b0 == 0xED ? 0x9F : 0xBF;
    if (!cont(1, lo, hi) || !cont(2)) return {1, false};
    return {3, true};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const unsigned char lo = b0 == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (!cont(1, lo, hi) || !cont(2) || !cont(3)) return {1, false};
    return {4, true};
  }
  return {1, false};
}

bool needsQuoting(std::string_view v) noexcept {
  if (v.empty()) return true;
  for (std::size_t i = 0; i < v.size();) {
    const char c = v[i];
    if (c == ' ' || c == '"' || c == '=' || c == '\\') return true;
    const Unit u = utf8Unit(v, i);
    if (!u.printable) return true;
    i += u.len;
  }
  return false;
}

constexpr bool isKeyChar(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-' || c == ':';
}

// Fixed stack buffer: logging must not allocate (it runs on error paths, including out of memory).
class LineBuffer {
 public:
  void raw(std::string_view s) noexcept {
    if (truncated_) return;
    if (size_ + s.size() > kMaxLine - kReserve) {
      truncated_ = true;
      return;
    }
    append(s);
  }

  // " key=value". Keys come from code, but are still forced into a safe alphabet so a bad one
  // cannot forge a field.
  void field(std::string_view key, std::string_view value, bool force_quote) noexcept {
    if (truncated_) return;
    const std::size_t key_len = key.empty() ? 1 : key.size();
    if (size_ + 1 + key_len + 1 + 2 > kMaxLine - kReserve) {
      truncated_ = true;
      return;
    }
    buf_[size_++] = ' ';
    if (key.empty()) buf_[size_++] = '_';
    for (char c : key) buf_[size_++] = isKeyChar(c) ? c : '_';
    buf_[size_++] = '=';
    this->value(value, force_quote);
  }

  std::string_view finish() noexcept {
    if (truncated_) {
      append(kTruncatedTail);
    } else {
      buf_[size_++] = '\n';
    }
    return {buf_, size_};
  }

 private:
  void value(std::string_view v, bool force_quote) noexcept {
    const bool quote = force_quote || needsQuoting(v);
    const std::size_t limit = kMaxLine - kReserve;
    if (quote) buf_[size_++] = '"';
    for (std::size_t i = 0; i < v.size();) {
      const Unit u = utf8Unit(v, i);
      char esc[4];
      std::string_view piece;
      std::size_t step;
      if (u.printable && v[i] != '"' && v[i] != '\\') {
        piece = v.substr(i, u.len);
        step = u.len;
      } else {
        // An unprintable multi-byte unit (C1 control) is escaped a byte at a time.
        piece = escapeByte(static_cast<unsigned char>(v[i]), esc);
        step = 1;
      }
      if (size_ + piece.size() > limit) {
        truncated_ = true;
        break;
      }
      append(piece);
      i += step;
    }
    // The closing quote always fits: kReserve keeps a byte for it.
    if (quote) buf_[size_++] = '"';
  }

  static std::string_view escapeByte(unsigned char b, char (&esc)[4]) noexcept {
    static constexpr char kHex[] = "0123456789abcdef";
    esc[0] = '\\';
    switch (b) {
      case '"':
        esc[1] = '"';
        return {esc, 2};
      case '\\':
        esc[1] = '\\';
        return {esc, 2};
      case '\n':
        esc[1] = 'n';
        return {esc, 2};
      case '\r':
        esc[1] = 'r';
        return {esc, 2};
      case '\t':
        esc[1] = 't';
        return {esc, 2};
      default:
        esc[1] = 'x';
        esc[2] = kHex[b >> 4];
        esc[3] = kHex[b & 0x0F];
        return {esc, 4};
    }
  }

  void append(std::string_view s) noexcept {
    for (char c : s) buf_[size_++] = c;
  }

  char buf_[kMaxLine];
  std::size_t size_ = 0;
  bool truncated_ = false;
};

// RFC 3339, UTC, millisecond precision: "2024-05-01T12:34:56.789Z".
void appendTimestamp(LineBuffer& line) noexcept {
  const auto now = std::chrono::system_clock::now();
  const auto ms_total =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms_total / 1000);
  const int ms = static_cast<int>(ms_total % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[32];
  const int n =
      std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  line.raw("ts=");
  line.raw(std::string_view(ts, n > 0 ? static_cast<std::size_t>(n) : 0));
}

}  // namespace

void setLogLevel(LogLevel level) noexcept { min_level.store(level, std::memory_order_relaxed); }

bool logEnabled(LogLevel level) noexcept {
  return level >= min_level.load(std::memory_order_relaxed);
}

void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!logEnabled(level)) return;
  // Callers often log right after a failed syscall and then inspect errno.
  const int saved_errno = errno;

  LineBuffer line;
  appendTimestamp(line);
  line.raw(" level=");
  line.raw(levelName(level));
  line.field("msg", msg, /*force_quote=*/true);
  for (const auto& [key, value] : fields) line.field(key, value, /*force_quote=*/false);
  const std::string_view out = line.finish();

  // Exactly one write per line (see kMaxLine); a short write is not completed with a second call,
  // which could interleave with another thread's line.
  ssize_t rc;
  do {
    rc = ::write(STDERR_FILENO, out.data(), out.size());
  } while (rc < 0 && errno == EINTR);

  errno = saved_errno;
}

}  // namespace qaqpa::common
