// Helpers for the journal tests: a real Ed25519 checkpoint signer, event bytes, a completion
// collector, and an independent verifier that re-reads a journal directory from the files alone
// (manifest, every segment incl. archived ones, every hash recomputed from a protobuf re-encoding,
// every checkpoint signature checked).
#pragma once

#include <openssl/evp.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "gateway/journal/format.h"
#include "gateway/journal/journal.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::journal::test {

namespace pb = qaqpa::journal::v1;

inline std::string deterministic(const google::protobuf::MessageLite& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return out;
}

// Canonical bytes of a ~600-byte event without the chain fields, as a worker would make them.
inline std::string makeEvent(const std::string& id, std::size_t pad = 0) {
  pb::DigitalEvent ev;
  ev.set_event_id(id);
  ev.set_node_id("kz-test-1");
  ev.mutable_time()->set_seconds(1704067200);
  ev.set_zone(pb::STATE);
  ev.set_kind(pb::DATA_ACCESS);
  ev.mutable_client()->set_id("KZ/GOV/123456789012/registry");
  ev.mutable_provider()->set_id("KZ/GOV/210987654321/population");
  ev.mutable_service()->set_id("population.person");
  ev.set_subject("IIN:900101300123");
  ev.set_status("OK");
  ev.set_http_status(200);
  ev.set_request_digest("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
  if (pad > 0) ev.set_detail(std::string(pad, 'x'));
  return deterministic(ev);
}

struct Ed25519Key {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ~Ed25519Key() { EVP_PKEY_free(key); }
};

// Signs with a fresh Ed25519 key; `calls` counts signatures, `fail` makes it answer nothing.
struct TestSigner {
  std::shared_ptr<Ed25519Key> key = std::make_shared<Ed25519Key>();
  std::shared_ptr<std::atomic<bool>> fail = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);

  Signer signer() const {
    return [key = key, fail = fail,
            calls = calls](std::string_view msg) -> std::optional<CheckpointSignature> {
      calls->fetch_add(1);
      if (fail->load()) return std::nullopt;
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      std::string sig(64, '\0');
      std::size_t len = sig.size();
      const bool ok =
          EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key->key) == 1 &&
          EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                         reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
      EVP_MD_CTX_free(ctx);
      if (!ok) return std::nullopt;
      return CheckpointSignature{"test-key-1", "ed25519", sig};
    };
  }
  bool verify(std::string_view msg, std::string_view sig) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok =
        EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key->key) == 1 &&
        EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                         reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
  }
};

// Collects completions from the writer thread; wait(n) returns once n have arrived.
class Collector {
 public:
  AppendCallback callback() {
    return [this](const AppendResult& r) {
      std::lock_guard lock(mu_);
      results_.push_back(r);
      cv_.notify_all();
    };
  }
  std::vector<AppendResult> wait(std::size_t n) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(60), [&] { return results_.size() >= n; })) {
      throw std::runtime_error("completions did not arrive");
    }
    return results_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return results_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AppendResult> results_;
};

struct VerifiedJournal {
  bool ok = false;
  std::string error;
  std::vector<std::uint64_t> seqs;
  std::vector<std::string> event_ids;
  std::string head_hash = std::string(kHashBytes, '\0');
  int checkpoints = 0;
  int segments = 0;
};

inline bool readManifest(const std::filesystem::path& dir, pb::Manifest& m) {
  std::string error;
  bool absent = false;
  auto bytes = readManifestBlocking(dir, error, absent);
  return bytes && m.ParseFromString(bytes->payload);
}

// Re-reads the whole journal from disk and checks everything a verifier would.
inline VerifiedJournal verifyJournal(const std::filesystem::path& dir, const TestSigner& signer) {
  VerifiedJournal v;
  auto bad = [&](std::string why) {
    v.error = std::move(why);
    return v;
  };
  pb::Manifest m;
  if (!readManifest(dir, m)) return bad("no manifest");
  std::uint64_t seq = 0;
  std::uint64_t covered = 0;
  std::string prev(kHashBytes, '\0');
  for (const auto& s : m.segments()) {
    ++v.segments;
    const std::filesystem::path file = s.state() == pb::Manifest::ARCHIVED
                                           ? std::filesystem::path(s.archive_path())
                                           : dir / s.file_name();
    const SegmentScan scan = scanSegmentBlocking(file);
    if (!scan.opened || !scan.magic_ok) return bad("cannot read " + file.string());
    if (scan.stop != FrameStatus::End) return bad("bad frame in " + file.string());
    if (s.first_seq() != seq + 1 || s.prev_hash() != prev) return bad("segment does not continue");
    for (std::size_t i = 0; i < scan.frames.size(); ++i) {
      pb::JournalRecord rec;
      if (!rec.ParseFromString(scan.frames[i].payload)) return bad("record does not parse");
      if (i == 0) {
        if (!rec.has_segment_start() || rec.segment_start().first_seq() != seq + 1 ||
            rec.segment_start().prev_hash() != prev) {
          return bad("bad SegmentStart in " + file.string());
        }
        continue;
      }
      if (rec.has_event()) {
        pb::DigitalEvent ev = rec.event();
        if (ev.seq() != seq + 1) return bad("seq gap at " + std::to_string(ev.seq()));
        if (ev.prev_hash() != prev) return bad("prev_hash at " + std::to_string(ev.seq()));
        const std::string hash = ev.hash();
        ev.clear_hash();
        if (chainHash(prev, deterministic(ev)) != hash) {
          return bad("hash at " + std::to_string(ev.seq()));
        }
        seq = ev.seq();
        prev = hash;
        v.seqs.push_back(seq);
        v.event_ids.push_back(ev.event_id());
      } else if (rec.has_checkpoint()) {
        pb::Checkpoint c = rec.checkpoint();
        if (c.first_seq() != covered + 1 || c.last_seq() != seq || c.chain_head() != prev) {
          return bad("checkpoint " + std::to_string(c.first_seq()) + ".." +
                     std::to_string(c.last_seq()) + " at seq " + std::to_string(seq));
        }
        if (c.key_id() != "test-key-1" || c.algorithm() != "ed25519") return bad("checkpoint key");
        const std::string sig = c.signature();
        c.clear_signature();
        if (!signer.verify(deterministic(c), sig)) return bad("checkpoint signature");
        covered = c.last_seq();
        ++v.checkpoints;
      } else {
        return bad("unexpected record");
      }
    }
    if (s.state() != pb::Manifest::OPEN && (s.last_seq() != seq || s.last_hash() != prev)) {
      return bad("manifest last_seq/last_hash of " + s.file_name());
    }
  }
  if (covered != seq) return bad("events after the last checkpoint");
  v.head_hash = prev;
  v.ok = true;
  return v;
}

inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
inline void writeFile(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace qaqpa::journal::test
