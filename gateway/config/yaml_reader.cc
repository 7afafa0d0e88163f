#include "gateway/config/yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace qaqpa::config::detail {
namespace {

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// yaml-cpp tags plain scalars "?" and quoted ones "!": a quoted "8080" or "true" is a string, and a
// strict loader must not silently turn it into a number or a flag.
bool isPlainScalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "?"; }

std::string joinAllowed(std::initializer_list<std::string_view> allowed) {
  std::string out;
  for (std::string_view key : allowed) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

}  // namespace

void Diagnostics::error(std::string_view path, const YAML::Node& at, std::string message) {
  if (at.IsDefined()) {
    const YAML::Mark mark = at.Mark();
    if (mark.line >= 0) message += " (line " + std::to_string(mark.line + 1) + ")";
  }
  error(path, std::move(message));
}

void Diagnostics::errorAtPosition(int line, int column, std::string message) {
  std::string where = file_;
  if (line >= 0) where += ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1);
  errors_->push_back(ConfigError{std::move(where), std::move(message)});
}

void Diagnostics::error(std::string_view path, std::string message) {
  std::string where = file_;
  if (!path.empty()) {
    where += ": ";
    where += path;
  }
  errors_->push_back(ConfigError{std::move(where), std::move(message)});
}

std::string childPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string indexPath(std::string_view parent, std::size_t index) {
  std::string out(parent);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

std::optional<YAML::Node> parseDocument(Diagnostics& diag, const std::string& bytes) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(bytes);
  } catch (const YAML::Exception& e) {
    // Syntax errors carry a position but no YAML path: "file:line:col".
    diag.errorAtPosition(e.mark.line, e.mark.column, "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  if (docs.empty() || docs.front().IsNull()) {
    diag.error("", "file is empty; expected a mapping");
    return std::nullopt;
  }
  if (docs.size() > 1) {
    diag.error(
        "", "file holds " + std::to_string(docs.size()) + " YAML documents; expected exactly one");
    return std::nullopt;
  }
  if (!docs.front().IsMap()) {
    diag.error("", docs.front(),
               "expected a mapping at the top level, got " + describe(docs.front()));
    return std::nullopt;
  }
  return docs.front();
}

MapReader::MapReader(Diagnostics& diag, const YAML::Node& node, std::string path,
                     std::initializer_list<std::string_view> allowed)
    : diag_(&diag), node_(node), path_(std::move(path)) {
  if (!node.IsMap()) {
    diag.error(path_, node, "expected a mapping, got " + describe(node));
    return;
  }
  is_map_ = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      diag.error(path_, key, "mapping keys must be plain names, got " + describe(key));
      continue;
    }
    std::string name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      diag.error(childPath(path_, name), key,
                 "unknown key '" + name + "'; allowed here: " + joinAllowed(allowed));
      continue;
    }
    bool duplicate = std::any_of(entries_.begin(), entries_.end(),
                                 [&](const auto& entry) { return entry.first == name; });
    if (duplicate) {
      diag.error(childPath(path_, name), key, "key '" + name + "' appears more than once");
      continue;
    }
    entries_.emplace_back(std::move(name), it->second);
  }
}

std::optional<YAML::Node> MapReader::optional(std::string_view key) const {
  for (const auto& [name, value] : entries_) {
    if (name == key) return value;
  }
  return std::nullopt;
}

std::optional<YAML::Node> MapReader::required(std::string_view key) const {
  auto value = optional(key);
  if (!value && is_map_) {
    diag_->error(pathOf(key), node_, "required key '" + std::string(key) + "' is missing");
  }
  return value;
}

std::optional<std::string> readString(Diagnostics& diag, const YAML::Node& node,
                                      std::string_view path) {
  if (!node.IsScalar()) {
    diag.error(path, node, "expected a string, got " + describe(node));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::string> readText(Diagnostics& diag, const YAML::Node& node,
                                    std::string_view path) {
  auto text = readString(diag, node, path);
  if (!text) return std::nullopt;
  bool blank =
      std::all_of(text->begin(), text->end(), [](unsigned char c) { return std::isspace(c) != 0; });
  if (blank) {
    diag.error(path, node, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<std::uint64_t> readUnsigned(Diagnostics& diag, const YAML::Node& node,
                                          std::string_view path, std::uint64_t min,
                                          std::uint64_t max) {
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (!isPlainScalar(node)) {
    diag.error(path, node,
               "expected an unquoted integer in " + range + ", got " +
                   (node.IsScalar() ? "a quoted string" : describe(node)));
    return std::nullopt;
  }
  const std::string& text = node.Scalar();
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  bool digits_only = !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isdigit(c) != 0;
  });
  if (!digits_only || ec != std::errc() || ptr != end) {
    diag.error(path, node, "expected an integer in " + range + ", got '" + text + "'");
    return std::nullopt;
  }
  if (value < min || value > max) {
    diag.error(path, node, "value " + text + " is out of range; expected " + range);
    return std::nullopt;
  }
  return value;
}

std::optional<bool> readBool(Diagnostics& diag, const YAML::Node& node, std::string_view path) {
  if (isPlainScalar(node)) {
    if (node.Scalar() == "true") return true;
    if (node.Scalar() == "false") return false;
  }
  diag.error(path, node,
             "expected true or false, got " +
                 (node.IsScalar() ? "'" + node.Scalar() + "'" : describe(node)));
  return std::nullopt;
}

std::optional<Millis> readDuration(Diagnostics& diag, const YAML::Node& node, std::string_view path,
                                   Millis min, Millis max) {
  if (!node.IsScalar()) {
    diag.error(path, node, "expected a duration like 250ms, 10s or 2m, got " + describe(node));
    return std::nullopt;
  }
  auto value = parseDuration(node.Scalar());
  if (!value) {
    diag.error(path, node,
               "expected a duration like 250ms, 10s or 2m (a non-negative integer and a unit "
               "ms, s, m, h or d), got '" +
                   node.Scalar() + "'");
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    diag.error(path, node,
               "duration '" + node.Scalar() + "' is out of range; expected " +
                   std::to_string(min.count()) + "ms.." + std::to_string(max.count()) + "ms");
    return std::nullopt;
  }
  return value;
}

std::optional<LocalizedText> readLocalizedText(Diagnostics& diag, const YAML::Node& node,
                                               std::string_view path) {
  MapReader map(diag, node, std::string(path), {"kk", "ru", "en"});
  if (!map.isMap()) return std::nullopt;
  LocalizedText out;
  bool ok = true;
  for (auto [key, field] : {std::pair{"kk", &out.kk}, {"ru", &out.ru}, {"en", &out.en}}) {
    auto value = map.required(key);
    auto text = value ? readText(diag, *value, map.pathOf(key)) : std::nullopt;
    if (text) {
      *field = std::move(*text);
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

bool expectSequence(Diagnostics& diag, const YAML::Node& node, std::string_view path) {
  if (node.IsSequence()) return true;
  diag.error(path, node, "expected a list, got " + describe(node));
  return false;
}

}  // namespace qaqpa::config::detail
