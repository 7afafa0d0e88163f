// Internal to gateway/config: the two halves of loadSnapshotBlocking() (config.h). Both append
// every problem they find to `errors` and fill `out` as far as the input allows; the caller
// publishes a Snapshot only when no error was found. Blocking (file I/O), single-threaded.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/config/yaml_reader.h"

namespace qaqpa::config::detail {

// The gateway file (qaqpa.yaml). `base_dir` is the absolute directory holding it: policy_dir and
// ports_file are resolved against it. Returns false if policy_dir could not be determined.
bool parseGatewayFile(Diagnostics& diag, const YAML::Node& root,
                      const std::filesystem::path& base_dir, GatewayConfig& out);

// The policy bundle in `dir` (systems.yaml, purposes.yaml, providers/*.yaml). Pointers in `out`
// point into `out` itself, so `out` must already live where it will stay (inside the Snapshot).
// `digest` receives the sha-256 hex of the bundle files (config.h), empty if a file was unreadable.
void loadPolicyBundle(const std::filesystem::path& dir, std::vector<ConfigError>& errors,
                      PolicyBundle& out, std::string& digest);

// "http://host[:port][/path]" -> Upstream, or nullopt with `error` set to an operator message.
std::optional<Upstream> parseUpstreamUrl(std::string_view url, std::string& error);

// Lower-case hex SHA-256 of `bytes` (OpenSSL EVP).
std::string sha256Hex(std::string_view bytes);

}  // namespace qaqpa::config::detail
