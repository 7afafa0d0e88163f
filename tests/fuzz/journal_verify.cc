// Fuzz target: `qaqpa journal verify` and `export` on a tampered journal directory —
// audit::verifyJournalBlocking and audit::exportSubjectBlocking (MANIFEST framing and parsing,
// manifest coherence, the file set, segment scanning, every record check, signatures).
//
// Input: one flags byte, then parts separated by kSeparator: part 0 is the MANIFEST file (its
// frame included), parts 1.. are segment files (magic included). Part i is written under the
// file name of manifest entry i-1 when the MANIFEST parses and that name is a plain file name
// (into the archive directory for ARCHIVED entries when flag 16 asks for one), else under an
// unlisted seg-99999999-*.qj name. Flags: 1 rewrite every frame's CRC first (fuzz_journal.h);
// 2 strict; 4 skip signatures; 8 check_file_set_first = false; 16 archive_dir; 32 no keys;
// 64 the export sink stops after the first line.
// The directory is one per process (in /dev/shm when present), emptied and refilled per input.
// Keys: the test-only keys of tests/signing/data as "test-ed25519" and "test-p256", so seeds
// (make_seeds.py) can hold validly signed checkpoints.
//
// Invariants: ok ⇔ error None ⇔ exit code 0; a torn tail is a framing error; a verified journal
// has a safe point, gap-free seqs and a 32-byte head; when verify passes, export reads the same
// events completely; every exported line is a JSON object about the subject asked for.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>

#include "gateway/audit/export.h"
#include "gateway/audit/key_set.h"
#include "gateway/audit/verify.h"
#include "gateway/journal/format.h"
#include "qaqpa/journal/v1/journal.pb.h"
#include "tests/fuzz/fuzz_journal.h"

namespace {

namespace fs = std::filesystem;
namespace audit = qaqpa::audit;
namespace journal = qaqpa::journal;
namespace v1 = qaqpa::journal::v1;

constexpr std::string_view kSeparator = "\n=QJ=\n";
constexpr std::string_view kSubject = "IIN:900101300017";

// tests/signing/data/test_ed25519_public.pem and test_p256_public.pem (test-only keys).
constexpr std::string_view kEd25519Public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAYA2kKFkhOYgzaMqQosBPUDfMVk/GsjTzvXDqCQmBP+A=\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kP256Public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETome/jS9jIS6q5n6JdlGN/Dc0DDq\n"
    "UnnNn+FYLFTUkxJ5euNGYzirk20QVGdGvIr+FJ8p8MGdJEwVHLsws/8VTw==\n"
    "-----END PUBLIC KEY-----\n";

struct Env {
  fs::path root;
  fs::path dir;
  fs::path archive;
  audit::KeySet keys;

  Env() {
    std::error_code ec;
    const fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "qaqpa-fuzz-journal-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) __builtin_trap();
    root = tmpl;
    dir = root / "journal";
    archive = root / "archive";
    auto ed = qaqpa::signing::PublicKey::fromPem(kEd25519Public);
    auto p256 = qaqpa::signing::PublicKey::fromPem(kP256Public);
    if (!ed || !p256) __builtin_trap();
    keys.add("test-ed25519", std::move(*ed));
    keys.add("test-p256", std::move(*p256));
  }
  ~Env() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

bool plainName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return !name.starts_with("MANIFEST");
}

void writeFile(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> splitParts(std::string_view in) {
  std::vector<std::string> parts;
  for (;;) {
    const std::size_t at = in.find(kSeparator);
    parts.emplace_back(in.substr(0, at));
    if (at == std::string_view::npos) break;
    in.remove_prefix(at + kSeparator.size());
  }
  return parts;
}

bool isFramingError(audit::VerifyError e) {
  return e == audit::VerifyError::FrameTruncated || e == audit::VerifyError::FrameBadLength ||
         e == audit::VerifyError::FrameBadCrc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  [[maybe_unused]] static const bool quiet = qaqpa::fuzz::quietProtobuf();
  static Env env;
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::vector<std::string> parts =
      splitParts(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  if (parts.size() > 8) return 0;  // a handful of segments covers every check

  std::error_code ec;
  fs::remove_all(env.dir, ec);
  fs::remove_all(env.archive, ec);
  fs::create_directory(env.dir, ec);
  if (ec) __builtin_trap();
  const bool use_archive = (flags & 16) != 0;
  if (use_archive) fs::create_directory(env.archive, ec);

  if (flags & 1) {
    qaqpa::fuzz::fixFrameCrcs(parts[0], 0);
    for (std::size_t i = 1; i < parts.size(); ++i) {
      qaqpa::fuzz::fixFrameCrcs(parts[i],
                                std::string_view(parts[i]).starts_with(journal::kSegmentMagic)
                                    ? journal::kSegmentMagic.size()
                                    : 0);
    }
  }
  writeFile(env.dir / std::string(journal::kManifestName), parts[0]);

  v1::Manifest manifest;
  const journal::Frame mf = journal::readFrame(parts[0]);
  const bool have_manifest =
      mf.status == journal::FrameStatus::Ok &&
      manifest.ParseFromArray(mf.payload.data(), static_cast<int>(mf.payload.size()));
  for (std::size_t i = 1; i < parts.size(); ++i) {
    fs::path target = env.dir / journal::segmentFileName(99999999, i);
    const int entry = static_cast<int>(i) - 1;
    if (have_manifest && entry < manifest.segments_size()) {
      const auto& s = manifest.segments(entry);
      if (s.state() == v1::Manifest::ARCHIVED && use_archive) {
        const std::string name = s.archive_path().empty()
                                     ? s.file_name()
                                     : fs::path(s.archive_path()).filename().string();
        if (plainName(name)) target = env.archive / name;
      } else if (plainName(s.file_name())) {
        target = env.dir / s.file_name();
      }
    }
    writeFile(target, parts[i]);
  }

  audit::VerifyOptions vopt;
  vopt.strict = (flags & 2) != 0;
  vopt.check_signatures = (flags & 4) == 0;
  vopt.check_file_set_first = (flags & 8) == 0;
  if (use_archive) vopt.archive_dir = env.archive;
  const audit::KeyResolver resolver = (flags & 32) ? audit::KeyResolver{} : env.keys.resolver();
  const audit::VerifyReport r = audit::verifyJournalBlocking(env.dir, resolver, vopt);

  if (r.ok != (r.error == audit::VerifyError::None)) __builtin_trap();
  if (r.ok != (audit::exitCodeFor(r.error) == audit::kExitOk)) __builtin_trap();
  if (audit::verifyErrorName(r.error).empty()) __builtin_trap();
  if (!r.ok && r.message.empty()) __builtin_trap();
  if (r.torn_tail && !isFramingError(r.error)) __builtin_trap();
  if (r.ok) {
    if (r.segments_verified > 0 && !r.safe.valid) __builtin_trap();
    if (r.events > 0 && (r.first_seq == 0 || r.last_seq - r.first_seq + 1 != r.events ||
                         r.chain_head.size() != journal::kHashBytes)) {
      __builtin_trap();
    }
    if (vopt.strict && r.uncovered_events != 0) __builtin_trap();
    if (r.uncovered_events > r.events) __builtin_trap();
  }

  audit::ExportOptions eopt;
  if (use_archive) eopt.archive_dir = env.archive;
  const bool stop_early = (flags & 64) != 0;
  std::uint64_t lines = 0;
  const audit::ExportResult x = audit::exportSubjectBlocking(
      env.dir, kSubject,
      [&](std::string_view line, const v1::DigitalEvent& ev) {
        if (ev.subject() != kSubject) __builtin_trap();
        boost::system::error_code jec;
        const boost::json::value v = boost::json::parse(line, jec);
        if (jec || !v.is_object()) __builtin_trap();
        ++lines;
        return !stop_early;
      },
      eopt);
  if (x.events_matched > x.events_read || x.events_matched != lines) __builtin_trap();
  if (x.complete && (x.stopped || !x.ok)) __builtin_trap();
  if (r.ok) {
    // verify read every frame of the same files: export must read them all, and the same events.
    if (!x.ok) __builtin_trap();
    if (!x.stopped) {
      if (!x.complete || x.damage != audit::VerifyError::None) __builtin_trap();
      if (x.events_read != r.events) __builtin_trap();
      if (r.events > 0 && (x.first_seq != r.first_seq || x.last_seq != r.last_seq)) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
