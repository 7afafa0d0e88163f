#include "gateway/config/config.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "gateway/config/loader.h"
#include "gateway/config/yaml_reader.h"

namespace qaqpa::config {
namespace {

constexpr std::array<std::string_view, kZoneCount> kZoneNames = {"state", "external",
                                                                 "international"};
constexpr std::array<std::string_view, kListenerKindCount> kListenerNames = {
    "state", "external", "international", "space", "admin"};

// Heterogeneous key for grant_index: looks a (client, service) pair up without building two
// std::strings on the request path.
struct PairView {
  std::string_view first, second;
};
bool operator<(const std::pair<std::string, std::string>& a, const PairView& b) noexcept {
  return a.first != b.first ? std::string_view(a.first) < b.first
                            : std::string_view(a.second) < b.second;
}
bool operator<(const PairView& a, const std::pair<std::string, std::string>& b) noexcept {
  return a.first != b.first ? a.first < std::string_view(b.first)
                            : a.second < std::string_view(b.second);
}

}  // namespace

std::string_view fsyncModeName(FsyncMode m) noexcept {
  switch (m) {
    case FsyncMode::Always:
      return "always";
    case FsyncMode::Batch:
      return "batch";
    case FsyncMode::None:
      return "none";
  }
  return "always";
}

std::string_view zoneName(Zone z) noexcept { return kZoneNames[static_cast<std::size_t>(z)]; }

std::optional<Zone> parseZone(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kZoneNames.size(); ++i) {
    if (kZoneNames[i] == s) return static_cast<Zone>(i);
  }
  return std::nullopt;
}

std::string_view listenerName(ListenerKind k) noexcept {
  return kListenerNames[static_cast<std::size_t>(k)];
}

std::optional<ListenerKind> parseListenerKind(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kListenerNames.size(); ++i) {
    if (kListenerNames[i] == s) return static_cast<ListenerKind>(i);
  }
  return std::nullopt;
}

std::optional<Zone> zoneOf(ListenerKind k) noexcept {
  switch (k) {
    case ListenerKind::State:
      return Zone::State;
    case ListenerKind::External:
      return Zone::External;
    case ListenerKind::International:
      return Zone::International;
    case ListenerKind::Space:
    case ListenerKind::Admin:
      break;
  }
  return std::nullopt;
}

bool Service::exposedTo(Zone z) const noexcept {
  return std::find(exposed_zones.begin(), exposed_zones.end(), z) != exposed_zones.end();
}

bool Grant::allowsPurpose(std::string_view code) const noexcept {
  return std::any_of(purposes.begin(), purposes.end(),
                     [&](const Purpose* p) { return p->code == code; });
}

bool Schedule::allows(std::chrono::system_clock::time_point t) const noexcept {
  if (always()) return true;
  using namespace std::chrono;
  const auto local = floor<minutes>(t) + minutes(utc_offset_minutes);
  const auto day = floor<days>(local);
  // 1970-01-01 was a Thursday: Monday-based index = (days + 3) mod 7.
  const long long d = day.time_since_epoch().count();
  const int weekday = static_cast<int>(((d % 7) + 7 + 3) % 7);
  if ((weekdays & (1u << weekday)) == 0) return false;
  const int minute = static_cast<int>((local - day).count());
  return minute >= start_minute && minute < end_minute;
}

bool Grant::activeAt(std::chrono::system_clock::time_point t) const noexcept {
  if (valid_from && t < *valid_from) return false;
  if (valid_until && t >= *valid_until) return false;
  return schedule.allows(t);
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
long long daysFromCivil(int y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<long long>(era) * 146097 + static_cast<long long>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) noexcept {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parseRfc3339(std::string_view s) noexcept {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec)) {
    return std::nullopt;
  }
  // system_clock counts nanoseconds in 64 bits: years outside ~1678..2262 would overflow it.
  // Nothing Qaqpa dates (grants, consents, queries) lies outside 1900..2199.
  if (y < 1900 || y > 2199) return std::nullopt;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
      mi > 59 || sec > 59) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  long long nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t n = 0;
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 9) nanos = nanos * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (std::size_t i = n; i < 9; ++i) nanos *= 10;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  using namespace std::chrono;
  const long long secs =
      daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400LL + h * 3600LL +
      mi * 60LL + sec - offset_minutes * 60LL;
  return system_clock::time_point(duration_cast<system_clock::duration>(seconds(secs)) +
                                  duration_cast<system_clock::duration>(nanoseconds(nanos)));
}

const System* PolicyBundle::findSystem(std::string_view id) const noexcept {
  auto it = systems.find(id);
  return it == systems.end() ? nullptr : &it->second;
}

const Service* PolicyBundle::findService(std::string_view id) const noexcept {
  auto it = services.find(id);
  return it == services.end() ? nullptr : &it->second;
}

const Purpose* PolicyBundle::findPurpose(std::string_view code) const noexcept {
  auto it = purposes.find(code);
  return it == purposes.end() ? nullptr : &it->second;
}

const std::vector<const Grant*>* PolicyBundle::findGrants(std::string_view client,
                                                          std::string_view service) const noexcept {
  auto it = grant_index.find(PairView{client, service});
  return it == grant_index.end() ? nullptr : &it->second;
}

std::optional<Millis> parseDuration(std::string_view text) noexcept {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 18) return std::nullopt;  // 18 digits cannot overflow int64
  std::int64_t n = 0;
  for (std::size_t i = 0; i < digits; ++i) n = n * 10 + (text[i] - '0');
  const std::string_view unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1'000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else if (unit == "d") {
    scale = 86'400'000;
  } else {
    return std::nullopt;
  }
  if (n > std::numeric_limits<Millis::rep>::max() / scale) return std::nullopt;
  return Millis{n * scale};
}

namespace detail {

std::optional<Upstream> parseUpstreamUrl(std::string_view url, std::string& error) {
  const std::string shown = "'" + std::string(url) + "'";
  auto starts_with_ci = [&](std::string_view prefix) {
    return url.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), url.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) ==
                    std::tolower(static_cast<unsigned char>(b));
           });
  };
  if (starts_with_ci("https://")) {
    error =
        "https upstreams are not supported yet (TLS to providers is a later issue, #3); use "
        "http://host:port[/path], got " +
        shown;
    return std::nullopt;
  }
  if (!starts_with_ci("http://")) {
    error = "expected http://host:port[/path], got " + shown;
    return std::nullopt;
  }
  std::string_view rest = url.substr(7);
  for (char c : rest) {
    auto uc = static_cast<unsigned char>(c);
    if (uc <= 0x20 || uc >= 0x7f || c == '?' || c == '#' || c == '@' || c == '\\') {
      error =
          "upstream must be http://host:port[/path] without spaces, user info, query or "
          "fragment, got " +
          shown;
      return std::nullopt;
    }
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);

  Upstream out;
  out.scheme = "http";
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unterminated IPv6 address in upstream " + shown;
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "unexpected characters after the IPv6 address in upstream " + shown;
        return std::nullopt;
      }
      has_port = true;
      port = after.substr(1);
    }
    auto ipv6_char = [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    };
    if (host.empty() || !std::all_of(host.begin(), host.end(), ipv6_char)) {
      error = "invalid IPv6 host in upstream " + shown;
      return std::nullopt;
    }
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port = authority.substr(colon + 1);
    }
    auto host_char = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
    };
    if (host.empty()) {
      error = "upstream host is empty in " + shown;
      return std::nullopt;
    }
    if (!std::all_of(host.begin(), host.end(), host_char)) {
      error = "invalid upstream host '" + std::string(host) + "' in " + shown;
      return std::nullopt;
    }
  }
  out.host = std::string(host);
  if (has_port) {
    unsigned long value = 0;
    bool ok = !port.empty() && port.size() <= 5 &&
              std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (ok) value = std::stoul(std::string(port));
    if (!ok || value < 1 || value > 65535) {
      error = "upstream port must be 1..65535, got '" + std::string(port) + "' in " + shown;
      return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  // The gateway appends "/{path}" from the request, so the base keeps no trailing slash.
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.base_path = std::string(path);
  return out;
}

std::string sha256Hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md.data(), &md_len, EVP_sha256(), nullptr) != 1) {
    return std::string();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(md_len * 2);
  for (unsigned int i = 0; i < md_len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0x0f];
  }
  return out;
}

}  // namespace detail

LoadResult loadSnapshotBlocking(const std::string& gateway_file) {
  namespace fs = std::filesystem;
  LoadResult result;
  auto snapshot = std::make_shared<Snapshot>();

  std::error_code ec;
  fs::path absolute = fs::absolute(fs::path(gateway_file), ec);
  if (ec) absolute = fs::path(gateway_file);
  absolute = absolute.lexically_normal();
  snapshot->source_path = absolute.string();

  std::string bytes;
  {
    std::ifstream in(absolute, std::ios::binary);
    if (!in) {
      result.errors.push_back(ConfigError{
          gateway_file, fs::exists(absolute, ec) ? "cannot be read" : "file is missing"});
      return result;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    bytes = std::move(buf).str();
  }

  detail::Diagnostics diag(gateway_file, result.errors);
  auto root = detail::parseDocument(diag, bytes);
  if (!root) return result;
  const bool policy_dir_known =
      detail::parseGatewayFile(diag, *root, absolute.parent_path(), snapshot->gateway);
  // The bundle is checked even when the gateway file has errors, so one run reports everything.
  if (policy_dir_known) {
    detail::loadPolicyBundle(snapshot->gateway.policy_dir, result.errors, snapshot->policy,
                             snapshot->policy_digest);
  }
  if (result.errors.empty()) result.snapshot = std::move(snapshot);
  return result;
}

}  // namespace qaqpa::config
