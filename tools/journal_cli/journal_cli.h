// `qaqpa journal <verify|repair|export> ...`: the operator's offline tools for the journal
// (docs/operations.md "Verifying, repairing and exporting the journal"; gateway/audit/README.md).
// The gateway binary's main dispatches `qaqpa journal ...` here.
//
// Runs on the calling (main) thread, blocking; writes to the given streams; returns the process
// exit code (kUsage text below lists them). Nothing throws.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "gateway/common/time_source.h"

namespace qaqpa::journal_cli {

// argv[0] is "journal" (main passes argc - 1, argv + 1), argv[1] the subcommand.
int runJournalCommand(int argc, char** argv);

// The same with explicit arguments (args[0] = the subcommand), streams and clock: for tests.
int runJournalCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                      const common::TimeSource& time);

}  // namespace qaqpa::journal_cli
