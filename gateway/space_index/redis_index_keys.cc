#include "gateway/space_index/redis_index_keys.h"

#include <cstdio>

namespace qaqpa::space_index {

namespace {
std::string tagged(std::string_view prefix, std::string_view id, std::string_view suffix) {
  std::string k;
  k.reserve(8 + prefix.size() + id.size() + suffix.size());
  k += "qaqpa:{";
  k += prefix;
  k += id;
  k += "}:";
  k += suffix;
  return k;
}
}  // namespace

std::string subjectIndexKey(std::string_view subject) { return tagged("subj:", subject, "z"); }
std::string subjectDataKey(std::string_view subject) { return tagged("subj:", subject, "h"); }
std::string checkpointIndexKey(std::string_view node) { return tagged("ckpt:", node, "z"); }
std::string checkpointDataKey(std::string_view node) { return tagged("ckpt:", node, "h"); }
std::string outboxCursorKey(std::string_view node) { return tagged("outbox:", node, "pos"); }
std::string cursorKeyKey() { return "qaqpa:{space}:cursor-key"; }

std::string seqField(std::uint64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(seq));
  return buf;
}

std::string eventRef(std::string_view node, std::uint64_t seq) {
  std::string r(node);
  r += '|';
  r += seqField(seq);
  return r;
}

bool parseEventRef(std::string_view ref, std::string_view& node, std::uint64_t& seq) noexcept {
  const auto bar = ref.find('|');
  if (bar == std::string_view::npos || bar == 0 || ref.size() - bar - 1 != 20) return false;
  std::uint64_t v = 0;
  for (const char c : ref.substr(bar + 1)) {
    if (c < '0' || c > '9') return false;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  node = ref.substr(0, bar);
  seq = v;
  return true;
}

bool isKeySafeNodeId(std::string_view id) noexcept {
  if (id.empty() || id.size() > 63) return false;
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_alnum(id.front())) return false;
  for (const char c : id) {
    if (!lower_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace qaqpa::space_index
