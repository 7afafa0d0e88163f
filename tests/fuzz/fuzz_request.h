// Turns fuzzer bytes into an HTTP request the way the transport would hand it to the stages:
//   <METHOD> <target>\n
//   <name>: <value>\n   (repeated)
//   \n
//   <body>
// Lines the HTTP parser would never produce (empty or non-token field names, control bytes in
// values or target) are skipped, so findings are reachable from the network.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/pipeline/exchange.h"

namespace qaqpa::fuzz {

inline bool isTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

inline bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTchar(c)) return false;
  }
  return true;
}

// HTAB, SP..'~' and obs-text; the parser trims leading/trailing whitespace.
inline bool isFieldValue(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u != '\t' && (u < 0x20 || u == 0x7f)) return false;
  }
  return true;
}

inline bool isTarget(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

inline std::string_view nextLine(std::string_view& in) {
  const std::size_t nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

inline pipeline::Request requestFromBytes(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  pipeline::Request req;
  req.version(11);
  std::string_view first = nextLine(in);
  const std::size_t sp = first.find(' ');
  std::string_view method = sp == std::string_view::npos ? "GET" : first.substr(0, sp);
  std::string_view target = sp == std::string_view::npos ? first : first.substr(sp + 1);
  req.method_string(isToken(method) ? method : "GET");
  req.target(isTarget(target) ? target : "/");
  while (!in.empty()) {
    std::string_view line = nextLine(in);
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (!isToken(name) || !isFieldValue(value)) continue;
    req.insert(name, value);
  }
  req.body().assign(in);
  return req;
}

}  // namespace qaqpa::fuzz
