// Demo datasets served by qaqpa-demo-provider: plausible, fixed records for the demo citizens and
// organisations of the demo policy bundle (docs: PRODUCT.md "Demo bundle"). Pure data, built once
// at start-up; thread-compatible (read-only after construction).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace qaqpa::demo {

enum class DatasetKind { Population, LegalEntity, Tax };

std::optional<DatasetKind> parseDatasetKind(std::string_view name) noexcept;
std::string_view datasetName(DatasetKind kind) noexcept;

// Records keyed by the 12-digit IIN (population, tax) or BIN (legal-entity).
struct Dataset {
  DatasetKind kind = DatasetKind::Population;
  std::map<std::string, boost::json::value, std::less<>> records;

  const boost::json::value* find(std::string_view id) const noexcept;
};

Dataset makeDataset(DatasetKind kind);

}  // namespace qaqpa::demo
