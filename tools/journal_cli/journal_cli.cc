#include "tools/journal_cli/journal_cli.h"

#include <chrono>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <string_view>

#include "gateway/audit/canonical.h"
#include "gateway/audit/export.h"
#include "gateway/audit/repair.h"
#include "gateway/audit/verify.h"
#include "gateway/common/ids.h"
#include "gateway/config/config.h"
#include "gateway/journal/format.h"
#include "gateway/journal/journal.h"
#include "gateway/signing/keys.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::journal_cli {
namespace {

namespace fs = std::filesystem;
namespace v1 = qaqpa::journal::v1;
using audit::kExitOk;
using audit::kExitUsage;

constexpr std::string_view kUsage = R"(usage:
  qaqpa journal verify <dir> (--jwks FILE | --key KID=PUBLIC.pem ... | --config FILE |
                              --skip-signatures)
                       [--archive DIR] [--strict]
      Checks the journal offline: MANIFEST, segment set, every frame (length, CRC-32C), canonical
      encoding, gap-free seq, every hash of the chain, every checkpoint (range, head, signature).
      Names the first bad record (file, byte offset, seq). --jwks takes the gateway's
      GET /v1/keys document; --key a public key PEM per key id (repeatable). --archive reads
      ARCHIVED segments from DIR (otherwise the chain is trusted from the first local segment).
      --strict: events after the last checkpoint (not signed yet) fail instead of warning.

  qaqpa journal repair <dir> [--jwks FILE | --key KID=PUBLIC.pem ... | --config FILE |
                              --skip-signatures]
                       [--dry-run]
      For a journal the gateway refuses to open. Never deletes: moves everything from the last
      record covered by a valid checkpoint before the first damage to the end of the journal into
      <dir>/quarantine-<UTC time>/, truncates there, rewrites MANIFEST; prints what moved and the
      seq range that left the live chain. Refuses while a gateway holds <dir>/LOCK.
      --dry-run prints the plan only.

  qaqpa journal export <dir> --subject IIN:<12 digits>|BIN:<12 digits> --reason "<legal reason>"
                       --operator NAME (--signing-key KID=PRIVATE.pem | --config FILE)
                       [--archive DIR] [--out FILE]
      Every event about the subject, in seq order, as JSON lines (stdout or --out). The export is
      journaled first (OPERATOR_ACCESS, with the reason, signed with the gateway key) — so it runs
      only while no gateway holds the journal; with a gateway running, use its admin API
      POST /admin/journal/export.

  --config FILE (any subcommand): the gateway file (qaqpa.yaml). Its signing.keys give the public
      keys (verify, repair) and the active private key (export); its journal.dir is the default
      <dir> and its journal.archive_dir the default --archive.

exit codes:
  0  ok (verify: the journal is intact; repair: repaired, nothing to do, or plan printed)
  2  usage error, unreadable file, or the journal is locked by a running gateway
  3  framing damage: bad magic, truncated record, bad record length, CRC mismatch
  4  chain damage: unparseable or non-canonical record, seq gap, prev_hash/hash mismatch, foreign
     node id, checkpoint range or chain head mismatch
  5  signature damage: bad checkpoint signature, unknown key id, uncovered events with --strict
  6  manifest / segment-set damage: MANIFEST missing or corrupt, segment missing or unlisted,
     SegmentStart or segment end disagreeing with the MANIFEST (repair: damage it cannot repair)
)";

struct Args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;  // --name value
  std::vector<std::string> flags;                            // --name

  std::optional<std::string> get(std::string_view name) const {
    for (const auto& [k, v] : options) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
  bool has(std::string_view name) const {
    for (const auto& f : flags) {
      if (f == name) return true;
    }
    return false;
  }
};

// Splits args into positionals, `--opt value` (those in `with_value`) and flags; false on an
// unknown option or a missing value.
bool parse(const std::vector<std::string>& args, std::size_t from,
           std::initializer_list<std::string_view> with_value,
           std::initializer_list<std::string_view> flags, Args& out, std::ostream& err) {
  for (std::size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.starts_with("--")) {
      out.positional.push_back(a);
      continue;
    }
    if (std::find(with_value.begin(), with_value.end(), a) != with_value.end()) {
      if (i + 1 >= args.size()) {
        err << "qaqpa journal: " << a << " needs a value\n";
        return false;
      }
      out.options.emplace_back(a, args[++i]);
    } else if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
      out.flags.push_back(a);
    } else {
      err << "qaqpa journal: unknown option " << a << "\n";
      return false;
    }
  }
  return true;
}

int usage(std::ostream& err, std::string_view why) {
  err << "qaqpa journal: " << why << "\n" << kUsage;
  return kExitUsage;
}

// --config: the gateway file, loaded and validated the way the gateway does it.
std::shared_ptr<const config::Snapshot> loadConfig(const Args& args, std::ostream& err,
                                                   bool& failed) {
  failed = false;
  const auto file = args.get("--config");
  if (!file) return nullptr;
  config::LoadResult r = config::loadSnapshotBlocking(*file);
  if (!r.snapshot) {
    err << "qaqpa journal: " << *file << ": " << r.errors.size() << " error(s)\n";
    for (const auto& e : r.errors) err << "  " << e.where << ": " << e.message << "\n";
    failed = true;
  }
  return r.snapshot;
}

// The journal directory: the one positional argument, or the config's journal.dir.
std::optional<fs::path> journalDir(const Args& args, const config::Snapshot* snap) {
  if (args.positional.size() == 1) return fs::path(args.positional[0]);
  if (args.positional.empty() && snap != nullptr && !snap->gateway.journal.dir.empty()) {
    return fs::path(snap->gateway.journal.dir);
  }
  return std::nullopt;
}

// The public half of every key of the config's signing.keys.
bool addConfigKeys(const config::Snapshot& snap, audit::KeySet& keys, std::ostream& err) {
  for (const config::SigningKeyConfig& k : snap.gateway.signing.keys) {
    std::string error;
    std::optional<signing::PublicKey> pub;
    if (!k.public_key_file.empty()) {
      pub = signing::PublicKey::loadPemFileBlocking(k.public_key_file, &error);
    } else if (auto priv = signing::PrivateKey::loadPemFileBlocking(k.private_key_file, &error)) {
      pub = priv->publicKey();
    }
    if (!pub) {
      err << "qaqpa journal: signing key " << k.kid << ": " << error << "\n";
      return false;
    }
    keys.add(k.kid, std::move(*pub));
  }
  return true;
}

// --jwks / --key into `keys`. Returns false (after printing) on a bad key source.
bool loadKeys(const Args& args, audit::KeySet& keys, std::ostream& err) {
  std::string error;
  for (const auto& [k, v] : args.options) {
    bool ok = true;
    if (k == "--jwks") ok = keys.addJwksFileBlocking(v, error);
    if (k == "--key") ok = keys.addPemSpecBlocking(v, error);
    if (!ok) {
      err << "qaqpa journal: " << error << "\n";
      return false;
    }
  }
  return true;
}

// What verify and repair start from: the gateway file (when --config), the journal directory and
// the public keys from every source given.
struct ReadSources {
  std::shared_ptr<const config::Snapshot> snap;
  fs::path dir;
  audit::KeySet keys;
  bool skip_signatures = false;
};

// Fills `out`; returns the exit code to stop with (after printing why), or nullopt to go on.
std::optional<int> loadReadSources(const Args& args, std::string_view command,
                                   std::string_view no_keys_why, std::ostream& err,
                                   ReadSources& out) {
  bool config_failed = false;
  out.snap = loadConfig(args, err, config_failed);
  if (config_failed) return kExitUsage;
  const auto dir = journalDir(args, out.snap.get());
  if (!dir) return usage(err, std::string(command) + " takes exactly one <dir> (or --config)");
  out.dir = *dir;
  if (!loadKeys(args, out.keys, err)) return kExitUsage;
  if (out.snap && !addConfigKeys(*out.snap, out.keys, err)) return kExitUsage;
  out.skip_signatures = args.has("--skip-signatures");
  if (out.keys.size() == 0 && !out.skip_signatures) return usage(err, no_keys_why);
  return std::nullopt;
}

int verifyCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  Args args;
  if (!parse(argv, 1, {"--jwks", "--key", "--archive", "--config"},
             {"--strict", "--skip-signatures"}, args, err)) {
    return usage(err, "bad arguments to verify");
  }
  ReadSources src;
  if (auto stop = loadReadSources(args, "verify",
                                  "verify needs the gateway's public keys (--jwks FILE or --key "
                                  "KID=PEM), or --skip-signatures to check everything but the "
                                  "signatures",
                                  err, src)) {
    return *stop;
  }
  const auto& snap = src.snap;
  const auto& keys = src.keys;
  const bool skip = src.skip_signatures;
  audit::VerifyOptions o;
  o.strict = args.has("--strict");
  o.check_signatures = !skip;
  if (snap) o.archive_dir = snap->gateway.journal.archive_dir;
  if (auto a = args.get("--archive")) o.archive_dir = *a;
  const fs::path dir = src.dir;
  const audit::VerifyReport r = audit::verifyJournalBlocking(dir, keys.resolver(), o);
  for (const auto& w : r.warnings) err << "warning: " << w << "\n";
  if (!r.ok) {
    out << "journal " << dir.string()
        << (r.error == audit::VerifyError::IoError ? ": CANNOT VERIFY (" : ": DAMAGED (")
        << audit::verifyErrorName(r.error) << ")\n  " << r.message << "\n  file " << r.file.string()
        << ", offset " << r.offset;
    if (r.seq != 0) out << ", seq " << r.seq;
    out << "\n  verified before it: " << r.events << " event(s)";
    if (r.events > 0) out << " (seq " << r.first_seq << ".." << r.last_seq << ")";
    out << ", " << r.checkpoints << " checkpoint(s)\n";
    using audit::VerifyError;
    if (r.error != VerifyError::IoError && r.error != VerifyError::Uncovered &&
        r.error != VerifyError::UnknownKey && r.error != VerifyError::ManifestMissing &&
        r.error != VerifyError::ManifestCorrupt) {
      out << "  to cut the journal at the last good checkpoint: qaqpa journal repair "
          << dir.string() << " --dry-run\n";
    }
    return audit::exitCodeFor(r.error);
  }
  out << "journal " << dir.string() << ": OK\n  node " << r.node_id << ", " << r.segments_verified
      << " segment(s) verified";
  if (r.segments_archived_skipped > 0) out << " (+" << r.segments_archived_skipped << " archived)";
  out << ", " << r.events << " event(s)";
  if (r.events > 0) out << " seq " << r.first_seq << ".." << r.last_seq;
  out << ", " << r.checkpoints << " checkpoint(s)"
      << (r.signatures_checked ? ", signatures verified" : ", signatures NOT checked") << "\n";
  out << "  chain head " << audit::hexPrefix(r.chain_head, journal::kHashBytes) << "\n";
  if (r.uncovered_events > 0) {
    out << "  " << r.uncovered_events << " event(s) not covered by a checkpoint yet\n";
  }
  return kExitOk;
}

int repairCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
                  const common::TimeSource& time) {
  Args args;
  if (!parse(argv, 1, {"--jwks", "--key", "--config"}, {"--dry-run", "--skip-signatures"}, args,
             err)) {
    return usage(err, "bad arguments to repair");
  }
  ReadSources src;
  if (auto stop = loadReadSources(args, "repair",
                                  "repair cuts at the last checkpoint whose signature verifies: "
                                  "give the gateway's public keys (--jwks FILE or --key KID=PEM), "
                                  "or --skip-signatures",
                                  err, src)) {
    return *stop;
  }
  const auto& keys = src.keys;
  const bool skip = src.skip_signatures;
  audit::RepairOptions o;
  o.dry_run = args.has("--dry-run");
  o.check_signatures = !skip;
  const audit::RepairResult r = audit::repairJournalBlocking(src.dir, keys.resolver(), o, time);
  out << audit::describeRepair(r);
  switch (r.outcome) {
    case audit::RepairOutcome::NothingToDo:
    case audit::RepairOutcome::Planned:
      return kExitOk;
    case audit::RepairOutcome::Repaired:
      return r.after.ok ? kExitOk : audit::exitCodeFor(r.after.error);
    case audit::RepairOutcome::Refused:
      return audit::kExitSegments;
    case audit::RepairOutcome::Locked:
    case audit::RepairOutcome::Failed:
      return kExitUsage;
  }
  return kExitUsage;
}

std::optional<std::string> manifestNode(const fs::path& dir, std::string& error) {
  bool absent = false;
  const auto bytes = journal::readManifestBlocking(dir, error, absent);
  v1::Manifest m;
  if (!bytes) return std::nullopt;
  if (!m.ParseFromString(bytes->payload)) {
    error = "MANIFEST's payload is not a Manifest";
    return std::nullopt;
  }
  return m.node_id();
}

int exportCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
                  const common::TimeSource& time) {
  Args args;
  if (!parse(argv, 1,
             {"--subject", "--reason", "--operator", "--signing-key", "--archive", "--out",
              "--config"},
             {}, args, err)) {
    return usage(err, "bad arguments to export");
  }
  bool config_failed = false;
  const auto snap = loadConfig(args, err, config_failed);
  if (config_failed) return kExitUsage;
  const auto dir_arg = journalDir(args, snap.get());
  if (!dir_arg) return usage(err, "export takes exactly one <dir> (or --config)");
  const auto subject = args.get("--subject");
  const auto reason = args.get("--reason");
  const auto op = args.get("--operator");
  auto key_spec = args.get("--signing-key");
  if (!key_spec && snap) {
    // The config's active key (the one the gateway signs checkpoints with).
    for (const config::SigningKeyConfig& k : snap->gateway.signing.keys) {
      if (k.active) key_spec = k.kid + "=" + k.private_key_file;
    }
  }
  if (!subject) return usage(err, "export needs --subject IIN:<12 digits> or BIN:<12 digits>");
  if (!audit::isExportableSubject(*subject)) {
    return usage(err,
                 "--subject must be IIN:<12 digits> or BIN:<12 digits>, got \"" + *subject + "\"");
  }
  if (!reason || reason->size() < 3) {
    return usage(err,
                 "export needs --reason \"<the legal reason for this access>\" (it is "
                 "journaled with the export)");
  }
  if (!op || op->empty()) {
    return usage(err, "export needs --operator <your name> (it is journaled with the export)");
  }
  const fs::path dir = *dir_arg;
  {
    std::string error;
    const auto lock = audit::JournalLock::tryAcquireBlocking(dir, false, error);
    if (lock.status() == audit::JournalLock::Status::Held) {
      err << "qaqpa journal: " << error
          << ".\nWhile the gateway runs, export through its admin API, POST "
             "/admin/journal/export (it journals the export):\n  curl -X POST "
             "http://<admin>/admin/journal/export -d "
             "'{\"subject\":\""
          << *subject << "\",\"reason\":\"…\",\"operator\":\"" << *op << "\"}'\n";
      return kExitUsage;
    }
    if (lock.status() == audit::JournalLock::Status::Error) {
      err << "qaqpa journal: " << error << "\n";
      return kExitUsage;
    }
  }
  if (!key_spec) {
    return usage(err,
                 "export needs --signing-key KID=PRIVATE.pem or --config FILE (the gateway's "
                 "active key): the "
                 "export is journaled and its checkpoint must be signed");
  }
  const auto eq = key_spec->find('=');
  if (eq == std::string::npos || eq == 0) return usage(err, "--signing-key wants KID=PRIVATE.pem");
  const std::string kid = key_spec->substr(0, eq);
  std::string error;
  auto key = signing::PrivateKey::loadPemFileBlocking(key_spec->substr(eq + 1), &error);
  if (!key) {
    err << "qaqpa journal: " << key_spec->substr(eq + 1) << ": " << error << "\n";
    return kExitUsage;
  }
  const auto node = manifestNode(dir, error);
  if (!node) {
    err << "qaqpa journal: " << error << "\n";
    return kExitUsage;
  }

  // Journal the access first: no line leaves before the OPERATOR_ACCESS event is durable.
  journal::JournalOptions jo;
  jo.dir = dir;
  jo.node_id = *node;
  jo.fsync = journal::FsyncPolicy::Always;
  const signing::PrivateKey& priv = *key;
  journal::Signer signer =
      [&](std::string_view message) -> std::optional<journal::CheckpointSignature> {
    auto sig = signing::sign(priv, message);
    if (!sig) return std::nullopt;
    return journal::CheckpointSignature{kid, std::string(signing::algorithmName(priv.algorithm())),
                                        std::move(*sig)};
  };
  journal::OpenResult opened = journal::Journal::openBlocking(jo, signer, time);
  if (!opened.journal) {
    err << "qaqpa journal: cannot open the journal to record the export: " << opened.error << "\n";
    if (opened.corrupt) err << "  repair it first: " << opened.repair_command << "\n";
    return kExitUsage;
  }
  v1::DigitalEvent e;
  const std::string event_id = common::toString(common::UuidV7Generator().next(time.unixMillis()));
  e.set_event_id(event_id);
  e.set_node_id(*node);
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(time.now().time_since_epoch()).count();
  e.mutable_time()->set_seconds(us / 1000000);
  e.mutable_time()->set_nanos(static_cast<std::int32_t>(us % 1000000) * 1000);
  e.set_zone(v1::ADMIN);
  e.set_kind(v1::OPERATOR_ACCESS);
  e.mutable_client()->set_id("operator:" + *op);
  e.set_subject(*subject);
  e.set_operator_reason(*reason);
  e.set_detail("journal export subject=" + *subject + " (offline: qaqpa journal export)");
  e.set_status("OK");
  std::promise<journal::AppendResult> done;
  auto appended = done.get_future();
  opened.journal->append(audit::canonicalBytes(e),
                         [&done](const journal::AppendResult& r) { done.set_value(r); });
  const journal::AppendResult ar = appended.get();
  opened.journal->stop();
  opened.journal.reset();
  if (!ar.ok()) {
    err << "qaqpa journal: the export could not be journaled; nothing was exported\n";
    return kExitUsage;
  }

  std::ofstream file;
  std::ostream* sink = &out;
  if (auto path = args.get("--out")) {
    file.open(*path, std::ios::binary | std::ios::trunc);
    if (!file) {
      err << "qaqpa journal: cannot write " << *path << "\n";
      return kExitUsage;
    }
    sink = &file;
  }
  audit::ExportOptions eo;
  if (snap) eo.archive_dir = snap->gateway.journal.archive_dir;
  if (auto a = args.get("--archive")) eo.archive_dir = *a;
  const audit::ExportResult r = audit::exportSubjectBlocking(
      dir, *subject,
      [&](std::string_view line, const v1::DigitalEvent&) {
        sink->write(line.data(), static_cast<std::streamsize>(line.size()));
        sink->put('\n');
        return static_cast<bool>(*sink);
      },
      eo);
  sink->flush();
  err << "exported " << r.events_matched << " event(s) about " << *subject << " (read "
      << r.events_read << "); this access is journaled as event " << event_id << " seq " << ar.seq
      << "\n";
  if (!r.ok) {
    err << "qaqpa journal: " << r.error << "\n";
    return kExitUsage;
  }
  if (!r.complete) {
    err << "qaqpa journal: INCOMPLETE, stopped at damage: " << r.error
        << " (run qaqpa journal verify)\n";
    return audit::exitCodeFor(r.damage);
  }
  return kExitOk;
}

}  // namespace

int runJournalCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                      const common::TimeSource& time) {
  if (args.empty()) return usage(err, "missing subcommand");
  const std::string& sub = args[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    out << kUsage;
    return kExitOk;
  }
  if (sub == "verify") return verifyCommand(args, out, err);
  if (sub == "repair") return repairCommand(args, out, err, time);
  if (sub == "export") return exportCommand(args, out, err, time);
  return usage(err, "unknown subcommand " + sub);
}

int runJournalCommand(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  const common::SystemTimeSource time;
  return runJournalCommand(args, std::cout, std::cerr, time);
}

}  // namespace qaqpa::journal_cli
