// Internal to gateway/config: strict, error-collecting reading of yaml-cpp nodes. Every reader
// reports problems into a Diagnostics (file name + YAML path, e.g. "services[0].upstream") and
// returns std::nullopt instead of throwing, so one pass finds every error of a file. Not part of
// the public contract (config.h); used only by the loader. Blocking-free, single-threaded.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/config/config.h"

namespace qaqpa::config::detail {

// Collects ConfigErrors for one file. `file` is the name shown to the operator (bundle-relative
// for policy files).
class Diagnostics {
 public:
  Diagnostics(std::string file, std::vector<ConfigError>& errors)
      : file_(std::move(file)), errors_(&errors) {}

  const std::string& file() const noexcept { return file_; }
  // `path` may be empty (the whole file). The node's line, when known, is appended to the message.
  void error(std::string_view path, const YAML::Node& at, std::string message);
  void error(std::string_view path, std::string message);
  // For syntax errors, which have a position but no YAML path: where = "<file>:<line>:<col>".
  void errorAtPosition(int line, int column, std::string message);
  std::size_t count() const noexcept { return errors_->size(); }

 private:
  std::string file_;
  std::vector<ConfigError>* errors_;
};

std::string childPath(std::string_view parent, std::string_view key);
std::string indexPath(std::string_view parent, std::size_t index);

// Parses one YAML document from `bytes`. Syntax errors are reported as "<file>:<line>:<col>".
// An empty file, several documents or a non-mapping root are errors. Returns nullopt on error.
std::optional<YAML::Node> parseDocument(Diagnostics& diag, const std::string& bytes);

// A mapping whose keys are checked once on construction: not a mapping, non-scalar keys,
// duplicate keys and keys outside `allowed` are reported. Lookups never mutate the node (unlike
// YAML::Node::operator[]).
class MapReader {
 public:
  MapReader(Diagnostics& diag, const YAML::Node& node, std::string path,
            std::initializer_list<std::string_view> allowed);

  bool isMap() const noexcept { return is_map_; }
  const std::string& path() const noexcept { return path_; }
  std::string pathOf(std::string_view key) const { return childPath(path_, key); }
  // The value of `key` if present (null values included: readers reject them with a message).
  std::optional<YAML::Node> optional(std::string_view key) const;
  // As optional(), but a missing key is reported as an error.
  std::optional<YAML::Node> required(std::string_view key) const;
  // Present entries in document order (only those with allowed, unique keys).
  const std::vector<std::pair<std::string, YAML::Node>>& entries() const noexcept {
    return entries_;
  }

 private:
  Diagnostics* diag_;
  YAML::Node node_;
  std::string path_;
  bool is_map_ = false;
  std::vector<std::pair<std::string, YAML::Node>> entries_;
};

// Scalar readers: report the wrong type or a bad value at `path` and return nullopt.
std::optional<std::string> readString(Diagnostics& diag, const YAML::Node& node,
                                      std::string_view path);
// Non-blank string (at least one non-whitespace character).
std::optional<std::string> readText(Diagnostics& diag, const YAML::Node& node,
                                    std::string_view path);
// Plain (unquoted) decimal integer in [min, max].
std::optional<std::uint64_t> readUnsigned(Diagnostics& diag, const YAML::Node& node,
                                          std::string_view path, std::uint64_t min,
                                          std::uint64_t max);
// Plain `true` or `false` (no yes/no/on/off).
std::optional<bool> readBool(Diagnostics& diag, const YAML::Node& node, std::string_view path);
// parseDuration() syntax in [min, max].
std::optional<Millis> readDuration(Diagnostics& diag, const YAML::Node& node, std::string_view path,
                                   Millis min, Millis max);
// {kk, ru, en}, all three present and non-blank, nothing else.
std::optional<LocalizedText> readLocalizedText(Diagnostics& diag, const YAML::Node& node,
                                               std::string_view path);
// Reports a non-sequence and returns false.
bool expectSequence(Diagnostics& diag, const YAML::Node& node, std::string_view path);

}  // namespace qaqpa::config::detail
