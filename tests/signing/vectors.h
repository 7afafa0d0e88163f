// Loads tests/signing/data (written by make_vectors.py): the JSON vectors and the test-only keys.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace qaqpa::signing::test {

inline std::string dataPath(const std::string& name) {
  return std::string(QAQPA_SIGNING_TEST_DATA) + "/" + name;
}

inline std::string readData(const std::string& name) {
  std::ifstream in(dataPath(name), std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Parsed once per process.
inline const boost::json::object& vectors() {
  static const boost::json::value v = boost::json::parse(readData("vectors.json"));
  return v.as_object();
}

inline std::string str(const boost::json::value& v) { return std::string(v.as_string()); }

}  // namespace qaqpa::signing::test
