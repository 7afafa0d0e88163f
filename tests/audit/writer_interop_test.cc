// The verifier against the production writer (gateway/journal/journal.cc), and the production
// writer against this folder's test writer: both sides of the shared on-disk format.
#include <gtest/gtest.h>

#include <future>
#include <sstream>

#include <boost/json/parse.hpp>

#include "gateway/audit/export.h"
#include "gateway/audit/verify.h"
#include "gateway/journal/journal.h"
#include "tests/audit/journal_builder.h"
#include "tests/support/temp_dir.h"
#include "tools/journal_cli/journal_cli.h"

namespace qaqpa::audit {
namespace {

using test_support::TempDir;
namespace fs = std::filesystem;
namespace v1 = qaqpa::journal::v1;

constexpr const char* kA = "IIN:900101300017";
constexpr const char* kB = "IIN:850505400123";

journal::Signer signerFor(const testing::SigningKey& k) {
  return [&k](std::string_view message) -> std::optional<journal::CheckpointSignature> {
    auto sig = signing::sign(*k.key.priv, message);
    if (!sig) return std::nullopt;
    return journal::CheckpointSignature{k.kid, std::string(signing::algorithmName(k.alg)), *sig};
  };
}

std::string eventBytes(const std::string& subject, int i) {
  v1::DigitalEvent e;
  e.set_event_id("ev-" + std::to_string(i));
  e.set_node_id("node-a");
  e.mutable_time()->set_seconds(1795000000 + i);
  e.set_zone(v1::STATE);
  e.set_kind(v1::DATA_ACCESS);
  e.set_subject(subject);
  e.set_status("OK");
  return canonicalBytes(e);
}

class WriterInteropTest : public ::testing::Test {
 protected:
  WriterInteropTest() : ed_(testing::makeKey("gw-ed-1", "ED25519")), dir_(tmp_.path() / "j") {
    testing::addPublic(keys_, ed_);
    pem_ = tmp_.path() / "gw.pem";
  }

  // Writes `n` events (subjects alternating A, B) with the production writer, rotating often.
  void writeWithProductionWriter(int n) {
    journal::JournalOptions o;
    o.dir = dir_;
    o.node_id = "node-a";
    o.fsync = journal::FsyncPolicy::None;
    o.max_batch_events = 7;
    o.segment_max_bytes = 4096;
    auto opened = journal::Journal::openBlocking(o, signerFor(ed_), time_);
    ASSERT_NE(opened.journal, nullptr) << opened.error;
    std::vector<std::future<journal::AppendResult>> done;
    for (int i = 0; i < n; ++i) {
      auto p = std::make_shared<std::promise<journal::AppendResult>>();
      done.push_back(p->get_future());
      opened.journal->append(eventBytes(i % 2 == 0 ? kA : kB, i),
                             [p](const journal::AppendResult& r) { p->set_value(r); });
    }
    for (auto& f : done) ASSERT_TRUE(f.get().ok());
    opened.journal->stop();
  }

  testing::SigningKey ed_;
  KeySet keys_;
  TempDir tmp_;
  fs::path dir_;
  fs::path pem_;  // the CLI's signing key (TestKey keeps no private PEM)
  common::SystemTimeSource time_;
};

TEST_F(WriterInteropTest, ProductionJournalVerifiesAndExports) {
  writeWithProductionWriter(200);
  const auto r = verifyJournalBlocking(dir_, keys_.resolver(), {.strict = true});
  ASSERT_TRUE(r.ok) << verifyErrorName(r.error) << ": " << r.message;
  EXPECT_EQ(r.events, 200u);
  EXPECT_EQ(r.last_seq, 200u);
  EXPECT_GT(r.segments_verified, 1u);  // rotation happened
  EXPECT_GT(r.checkpoints, 1u);
  EXPECT_EQ(r.uncovered_events, 0u);

  std::vector<std::uint64_t> seqs;
  const auto e = exportSubjectBlocking(dir_, kA, [&](std::string_view, const v1::DigitalEvent& ev) {
    seqs.push_back(ev.seq());
    return true;
  });
  ASSERT_TRUE(e.ok && e.complete) << e.error;
  ASSERT_EQ(seqs.size(), 100u);
  for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], 2 * i + 1);

  // Damage the production journal: the first bad record is named.
  const fs::path seg = dir_ / journal::segmentFileName(1, 1);
  const auto scan = journal::scanSegmentBlocking(seg);
  ASSERT_GT(scan.frames.size(), 3u);
  testing::flipByte(seg, scan.frames[2].offset + 12);
  const auto bad = verifyJournalBlocking(dir_, keys_.resolver());
  EXPECT_EQ(bad.error, VerifyError::FrameBadCrc);
  EXPECT_EQ(bad.offset, scan.frames[2].offset);
}

TEST_F(WriterInteropTest, OfflineExportIsJournaledByTheProductionWriter) {
  // A journal written by this folder's own test writer, then opened by the production writer:
  // the two agree on the format or the open (which checks the chain) fails.
  testing::JournalBuilder b(dir_, "node-a");
  b.useKey(&ed_);
  b.startSegment();
  b.event(kA);
  b.event(kB);
  b.event(kA);
  b.checkpoint();
  b.write();

  // The CLI signs with a key given as PEM.
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(raw, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, raw, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  testing::writeFile(pem_, std::string(data, static_cast<std::size_t>(len)));
  BIO_free(bio);
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(pub, raw);
  const long plen = BIO_get_mem_data(pub, &data);
  auto cli_pub = signing::PublicKey::fromPem(std::string(data, static_cast<std::size_t>(plen)));
  BIO_free(pub);
  EVP_PKEY_free(raw);
  ASSERT_TRUE(cli_pub);
  keys_.add("gw-ed-2", std::move(*cli_pub));

  std::ostringstream out, err;
  const int code = journal_cli::runJournalCommand(
      {"export", dir_.string(), "--subject", kA, "--reason", "court order 12/2026", "--operator",
       "aigerim", "--signing-key", "gw-ed-2=" + pem_.string()},
      out, err, time_);
  ASSERT_EQ(code, 0) << err.str();

  // Subject A's two events, then the export's own OPERATOR_ACCESS event (also about A).
  std::vector<boost::json::value> lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) lines.push_back(boost::json::parse(line));
  ASSERT_EQ(lines.size(), 3u) << out.str();
  EXPECT_EQ(lines[0].at("seq").as_int64(), 1);
  EXPECT_EQ(lines[1].at("seq").as_int64(), 3);
  const auto& access = lines[2].as_object();
  EXPECT_EQ(access.at("seq").as_int64(), 4);
  EXPECT_EQ(access.at("kind").as_string(), "OPERATOR_ACCESS");
  EXPECT_EQ(access.at("zone").as_string(), "ADMIN");
  EXPECT_EQ(access.at("client").at("id").as_string(), "operator:aigerim");
  EXPECT_EQ(access.at("operatorReason").as_string(), "court order 12/2026");
  EXPECT_EQ(access.at("subject").as_string(), kA);
  EXPECT_NE(std::string(access.at("detail").as_string()).find(kA), std::string::npos);

  const auto r = verifyJournalBlocking(dir_, keys_.resolver(), {.strict = true});
  ASSERT_TRUE(r.ok) << verifyErrorName(r.error) << ": " << r.message;
  EXPECT_EQ(r.events, 4u);
}

}  // namespace
}  // namespace qaqpa::audit
