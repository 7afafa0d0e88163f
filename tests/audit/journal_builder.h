// A small, independent journal writer for the audit tests: builds segment files and a MANIFEST
// byte by byte with format.h (frames, chain fields, chainHash, wrapEventRecord) and signs real
// checkpoints — so the verifier is tested against the format, not against the production writer.
// Also the helpers that damage files. Throws on setup failures so a broken test setup is loud.
#pragma once

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "gateway/audit/canonical.h"
#include "gateway/audit/key_set.h"
#include "gateway/common/crc32c.h"
#include "gateway/journal/format.h"
#include "gateway/signing/keys.h"
#include "qaqpa/journal/v1/journal.pb.h"
#include "tests/support/test_keys.h"

namespace qaqpa::audit::testing {

namespace fs = std::filesystem;
namespace v1 = qaqpa::journal::v1;

inline std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), {}};
}

inline void writeFile(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

// Where one record landed.
struct Placed {
  enum Type { Start, Event, Checkpoint } type;
  fs::path file;
  std::uint64_t offset = 0;     // of the frame header
  std::uint64_t size = 0;       // header + payload
  std::uint64_t seq = 0;        // Event: its seq; Checkpoint: last_seq
  std::uint64_t first_seq = 0;  // Checkpoint
};

struct SigningKey {
  std::string kid;
  signing::Algorithm alg;
  test_support::TestKey key;
};

inline SigningKey makeKey(const std::string& kid, const std::string& type) {
  SigningKey k{
      kid, type == "ED25519" ? signing::Algorithm::Ed25519 : signing::Algorithm::EcdsaP256Sha256,
      test_support::generateKey(type)};
  return k;
}

inline void addPublic(KeySet& set, const SigningKey& k) {
  auto pub = signing::PublicKey::fromPem(k.key.public_pem);
  if (!pub) throw std::runtime_error("public key does not load");
  set.add(k.kid, std::move(*pub));
}

class JournalBuilder {
 public:
  JournalBuilder(fs::path dir, std::string node_id)
      : dir_(std::move(dir)), node_(std::move(node_id)) {
    fs::create_directories(dir_);
  }

  void useKey(const SigningKey* key) { key_ = key; }

  // Closes the current segment (CLOSED) and starts a new one.
  void startSegment() {
    if (!segments_.empty()) {
      auto& last = segments_.back();
      last.entry.set_state(v1::Manifest::CLOSED);
      last.entry.set_last_seq(seq_);
      last.entry.set_last_hash(head_);
    }
    Seg s;
    const std::uint64_t index = segments_.size() + 1;
    s.entry.set_file_name(journal::segmentFileName(index, seq_ + 1));
    s.entry.set_segment_index(index);
    s.entry.set_first_seq(seq_ + 1);
    s.entry.set_prev_hash(head_);
    s.entry.set_state(v1::Manifest::OPEN);
    s.entry.mutable_created()->set_seconds(1795000000 + static_cast<std::int64_t>(index));
    s.bytes = std::string(journal::kSegmentMagic);
    v1::JournalRecord rec;
    auto* ss = rec.mutable_segment_start();
    ss->set_node_id(node_);
    ss->set_segment_index(index);
    ss->set_first_seq(seq_ + 1);
    ss->set_prev_hash(head_);
    ss->mutable_created()->set_seconds(1795000000 + static_cast<std::int64_t>(index));
    segments_.push_back(std::move(s));
    put(Placed::Start, canonicalBytes(rec), 0, 0);
  }

  // One event about `subject`; returns its seq.
  std::uint64_t event(const std::string& subject = "IIN:900101300017",
                      const std::string& node_override = "") {
    v1::DigitalEvent e;
    const std::uint64_t seq = seq_ + 1;
    e.set_event_id("0193a0b0-0000-7000-8000-" + std::to_string(100000000000 + seq));
    e.set_node_id(node_override.empty() ? node_ : node_override);
    e.mutable_time()->set_seconds(1795000000 + static_cast<std::int64_t>(seq));
    e.set_zone(v1::STATE);
    e.set_kind(v1::DATA_ACCESS);
    e.mutable_client()->set_id("KZ/GOV/MOJ/CASES");
    e.mutable_service()->set_id("population.person");
    e.set_subject(subject);
    e.set_status("OK");
    e.set_http_status(200);
    e.set_latency_us(1000 + seq);
    std::string bytes = canonicalBytes(e);
    journal::appendSeqAndPrevHash(bytes, seq, head_);
    const std::string hash = journal::chainHash(head_, bytes);
    journal::appendHashField(bytes, hash);
    put(Placed::Event, journal::wrapEventRecord(bytes), seq, 0);
    seq_ = seq;
    head_ = hash;
    if (pending_first_ == 0) pending_first_ = seq;
    return seq;
  }

  // A signed checkpoint over the events since the previous one.
  void checkpoint() {
    if (key_ == nullptr) throw std::runtime_error("no key");
    v1::JournalRecord rec;
    auto* c = rec.mutable_checkpoint();
    c->set_node_id(node_);
    c->set_first_seq(pending_first_);
    c->set_last_seq(seq_);
    c->set_chain_head(head_);
    c->mutable_time()->set_seconds(1795000000 + static_cast<std::int64_t>(seq_));
    c->set_key_id(key_->kid);
    c->set_algorithm(std::string(signing::algorithmName(key_->alg)));
    const auto sig = signing::sign(*key_->key.priv, canonicalBytes(*c));
    if (!sig) throw std::runtime_error("sign failed");
    c->set_signature(*sig);
    put(Placed::Checkpoint, canonicalBytes(rec), seq_, pending_first_);
    pending_first_ = 0;
  }

  // `n` events then a checkpoint.
  void batch(int n, const std::string& subject = "IIN:900101300017") {
    for (int i = 0; i < n; ++i) event(subject);
    checkpoint();
  }

  // Writes every segment and the MANIFEST (the last segment OPEN).
  void write() {
    v1::Manifest m;
    m.set_format_version(journal::kFormatVersion);
    m.set_node_id(node_);
    for (const auto& s : segments_) {
      writeFile(dir_ / s.entry.file_name(), s.bytes);
      *m.add_segments() = s.entry;
    }
    std::string error;
    if (!journal::writeManifestBlocking(dir_, canonicalBytes(m), error)) {
      throw std::runtime_error(error);
    }
  }

  fs::path segmentPath(std::size_t i) const { return dir_ / segments_.at(i).entry.file_name(); }
  const std::vector<Placed>& placed() const { return placed_; }
  const Placed& eventRecord(std::uint64_t seq) const {
    for (const auto& p : placed_) {
      if (p.type == Placed::Event && p.seq == seq) return p;
    }
    throw std::runtime_error("no event " + std::to_string(seq));
  }
  const Placed& checkpointRecord(std::uint64_t last_seq) const {
    for (const auto& p : placed_) {
      if (p.type == Placed::Checkpoint && p.seq == last_seq) return p;
    }
    throw std::runtime_error("no checkpoint ending at " + std::to_string(last_seq));
  }
  std::uint64_t lastSeq() const { return seq_; }
  const std::string& head() const { return head_; }

 private:
  struct Seg {
    v1::Manifest::Segment entry;
    std::string bytes;
  };

  void put(Placed::Type type, const std::string& payload, std::uint64_t seq, std::uint64_t first) {
    auto& s = segments_.back();
    placed_.push_back({type, dir_ / s.entry.file_name(), s.bytes.size(),
                       journal::kFrameHeaderBytes + payload.size(), seq, first});
    journal::appendFrame(s.bytes, payload);
  }

  fs::path dir_;
  std::string node_;
  const SigningKey* key_ = nullptr;
  std::vector<Seg> segments_;
  std::vector<Placed> placed_;
  std::uint64_t seq_ = 0;
  std::string head_ = std::string(journal::kHashBytes, '\0');
  std::uint64_t pending_first_ = 0;
};

// Damage helpers. `fixCrc` recomputes the CRC of the frame at `frame_offset` after its payload was
// edited, so that only the layers above the frame can notice.
inline void flipByte(const fs::path& file, std::uint64_t offset, unsigned char mask = 0x01) {
  std::string b = readFile(file);
  b.at(offset) = static_cast<char>(static_cast<unsigned char>(b.at(offset)) ^ mask);
  writeFile(file, b);
}

inline void fixCrc(const fs::path& file, std::uint64_t frame_offset) {
  std::string b = readFile(file);
  std::uint32_t len = 0;
  for (int i = 3; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(b[frame_offset + i]);
  const std::uint32_t crc =
      common::crc32c(std::string_view(b).substr(frame_offset + journal::kFrameHeaderBytes, len));
  for (int i = 0; i < 4; ++i) b[frame_offset + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
  writeFile(file, b);
}

// Offset (in the file) of the first occurrence of `needle` inside the frame at `p`.
inline std::uint64_t findInRecord(const Placed& p, const std::string& needle) {
  const std::string b = readFile(p.file);
  const auto pos = std::string_view(b).substr(p.offset, p.size).find(needle);
  if (pos == std::string_view::npos) throw std::runtime_error("needle not in record");
  return p.offset + pos;
}

}  // namespace qaqpa::audit::testing
