// qaqpa: the gateway binary.
//   qaqpa --config FILE [--ports-file PATH]   serve
//   qaqpa --validate-config FILE              check a gateway file and its policy bundle, exit 0/1
//   qaqpa --version | --help
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "gateway/common/log.h"
#include "gateway/config/config.h"
#include "gateway/server/server.h"
#include "tools/journal_cli/journal_cli.h"

namespace {

constexpr std::string_view kUsage =
    "usage: qaqpa --config FILE [--ports-file PATH]\n"
    "       qaqpa --validate-config FILE\n"
    "       qaqpa --version\n"
    "       qaqpa journal <verify|repair|export> ... (qaqpa journal --help)\n";

int printErrors(const qaqpa::config::LoadResult& r, const std::string& file) {
  std::cerr << file << ": " << r.errors.size() << " error(s)\n";
  for (const auto& e : r.errors) std::cerr << "  " << e.where << ": " << e.message << "\n";
  return 1;
}

qaqpa::common::LogLevel parseLevel(std::string_view s) {
  using qaqpa::common::LogLevel;
  if (s == "debug") return LogLevel::Debug;
  if (s == "warn") return LogLevel::Warn;
  if (s == "error") return LogLevel::Error;
  return LogLevel::Info;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "journal") {
    return qaqpa::journal_cli::runJournalCommand(argc - 1, argv + 1);
  }
  std::string config_file, validate_file, ports_file;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::cerr << "qaqpa: " << a << " needs a value\n" << kUsage;
        std::exit(2);
      }
      out = argv[++i];
    };
    if (a == "--config") {
      value(config_file);
    } else if (a == "--validate-config") {
      value(validate_file);
    } else if (a == "--ports-file") {
      value(ports_file);
    } else if (a == "--version") {
      std::cout << "qaqpa 0.1.0 (protocol qaqpa/1)\n";
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "qaqpa: unknown argument " << a << "\n" << kUsage;
      return 2;
    }
  }

  if (!validate_file.empty()) {
    const auto r = qaqpa::config::loadSnapshotBlocking(validate_file);
    if (!r.errors.empty()) return printErrors(r, validate_file);
    std::cout << validate_file << ": OK (" << r.snapshot->policy.systems.size() << " systems, "
              << r.snapshot->policy.services.size() << " services, "
              << r.snapshot->policy.grants.size() << " grants; policy digest "
              << r.snapshot->policy_digest << ")\n";
    return 0;
  }
  if (config_file.empty()) {
    std::cerr << kUsage;
    return 2;
  }

  const auto r = qaqpa::config::loadSnapshotBlocking(config_file);
  if (!r.errors.empty()) return printErrors(r, config_file);
  const auto& gw = r.snapshot->gateway;
  qaqpa::common::setLogLevel(parseLevel(gw.log_level));
  // The command line wins over the file: tests and scripts pick where to find the ports.
  if (ports_file.empty()) ports_file = gw.ports_file;
  if (gw.demo_trust_client_header) {
    qaqpa::common::log(qaqpa::common::LogLevel::Warn,
                       "DEMO MODE: demo_trust_client_header is true; Qaqpa-Client is trusted "
                       "WITHOUT proof of identity. Never use this outside a demo.",
                       {{"node", gw.node_id}});
  }

  // Broken client connections must surface as EPIPE errors, not kill the process.
  ::signal(SIGPIPE, SIG_IGN);
  // A file-size limit (RLIMIT_FSIZE) must fail the journal's write with EFBIG — answered by
  // failing closed — not kill the process.
  ::signal(SIGXFSZ, SIG_IGN);
  qaqpa::server::Server server(r.snapshot);
  std::string error;
  if (!server.bind(error)) {
    qaqpa::common::log(qaqpa::common::LogLevel::Error, "cannot bind", {{"error", error}});
    return 1;
  }
  if (!ports_file.empty() && !server.writePortsFileBlocking(ports_file, error)) {
    qaqpa::common::log(qaqpa::common::LogLevel::Error, "cannot write ports file",
                       {{"error", error}});
    return 1;
  }
  return server.run();
}
