#include "tools/journal_cli/journal_cli.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sstream>

#include "gateway/audit/verify.h"
#include "gateway/signing/structured_field.h"
#include "tests/audit/journal_builder.h"
#include "tests/support/temp_dir.h"

namespace qaqpa::audit {
namespace {

using test_support::TempDir;
using testing::JournalBuilder;
namespace fs = std::filesystem;

std::string base64Url(std::string_view bytes) {
  std::string s = signing::sf::base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) c = c == '+' ? '-' : (c == '/' ? '_' : c);
  return s;
}

class CliTest : public ::testing::Test {
 protected:
  CliTest()
      : ed_(testing::makeKey("gw-ed-1", "ED25519")),
        ec_(testing::makeKey("gw-ec-2", "EC")),
        dir_(tmp_.path() / "j"),
        b_(dir_, "node-a") {
    b_.useKey(&ed_);
    b_.startSegment();
    b_.batch(3);
    b_.useKey(&ec_);
    b_.batch(2);
    b_.write();
    // The JWKS the gateway serves at GET /v1/keys.
    const std::string ed_raw = signing::PublicKey::fromPem(ed_.key.public_pem)->rawBytes();
    const std::string ec_raw = signing::PublicKey::fromPem(ec_.key.public_pem)->rawBytes();
    jwks_ = tmp_.path() / "jwks.json";
    testing::writeFile(jwks_, R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":"gw-ed-1","x":")" +
                                  base64Url(ed_raw) +
                                  R"("},{"kty":"EC","crv":"P-256","kid":"gw-ec-2","x":")" +
                                  base64Url(ec_raw.substr(1, 32)) + R"(","y":")" +
                                  base64Url(ec_raw.substr(33, 32)) + R"("}]})");
    ed_pem_ = tmp_.path() / "ed.pem";
    ec_pem_ = tmp_.path() / "ec.pem";
    testing::writeFile(ed_pem_, ed_.key.public_pem);
    testing::writeFile(ec_pem_, ec_.key.public_pem);
  }

  int run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return journal_cli::runJournalCommand(args, out_, err_, time_);
  }

  testing::SigningKey ed_, ec_;
  TempDir tmp_;
  fs::path dir_;
  JournalBuilder b_;
  fs::path jwks_, ed_pem_, ec_pem_;
  common::SystemTimeSource time_;
  std::ostringstream out_, err_;
};

TEST_F(CliTest, VerifyCleanWithJwksOrPemKeys) {
  EXPECT_EQ(run({"verify", dir_.string(), "--jwks", jwks_.string()}), 0) << err_.str();
  EXPECT_NE(out_.str().find(": OK"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("5 event(s) seq 1..5"), std::string::npos) << out_.str();
  EXPECT_EQ(run({"verify", dir_.string(), "--key", "gw-ed-1=" + ed_pem_.string(), "--key",
                 "gw-ec-2=" + ec_pem_.string()}),
            0)
      << err_.str() << out_.str();
}

TEST_F(CliTest, ExitCodesByDamageClass) {
  const auto& p = b_.eventRecord(2);
  const std::string original = testing::readFile(p.file);
  const std::uint64_t digit = testing::findInRecord(p, "IIN:") + 6;

  testing::flipByte(p.file, digit);
  EXPECT_EQ(run({"verify", dir_.string(), "--jwks", jwks_.string()}), 3);
  EXPECT_NE(out_.str().find("FrameBadCrc"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("offset " + std::to_string(p.offset)), std::string::npos);

  testing::fixCrc(p.file, p.offset);
  EXPECT_EQ(run({"verify", dir_.string(), "--jwks", jwks_.string()}), 4);
  EXPECT_NE(out_.str().find("seq 2"), std::string::npos) << out_.str();

  testing::writeFile(p.file, original);
  const auto& c = b_.checkpointRecord(5);
  testing::flipByte(c.file, c.offset + c.size - 3);
  testing::fixCrc(c.file, c.offset);
  EXPECT_EQ(run({"verify", dir_.string(), "--jwks", jwks_.string()}), 5);
  EXPECT_EQ(run({"verify", dir_.string(), "--skip-signatures"}), 0);
  testing::writeFile(p.file, original);

  EXPECT_EQ(run({"verify", dir_.string(), "--key", "gw-ed-1=" + ed_pem_.string()}), 5);
  EXPECT_NE(out_.str().find("UnknownKey"), std::string::npos);

  fs::remove(dir_ / "MANIFEST");
  EXPECT_EQ(run({"verify", dir_.string(), "--jwks", jwks_.string()}), 6);
}

TEST_F(CliTest, UsageErrors) {
  EXPECT_EQ(run({}), 2);
  EXPECT_EQ(run({"frobnicate"}), 2);
  EXPECT_EQ(run({"verify", dir_.string()}), 2);  // no keys and no --skip-signatures
  EXPECT_NE(err_.str().find("--jwks"), std::string::npos);
  EXPECT_EQ(run({"verify", dir_.string(), "--jwks", (tmp_.path() / "none.json").string()}), 2);
  EXPECT_EQ(run({"verify", dir_.string(), "--bogus"}), 2);
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(out_.str().find("exit codes"), std::string::npos);
}

TEST_F(CliTest, ExportRequiresReasonAndOperator) {
  EXPECT_EQ(
      run({"export", dir_.string(), "--subject", "IIN:900101300017", "--operator", "aigerim"}), 2);
  EXPECT_NE(err_.str().find("--reason"), std::string::npos) << err_.str();
  EXPECT_EQ(run({"export", dir_.string(), "--subject", "IIN:900101300017", "--reason",
                 "court order 12/2026"}),
            2);
  EXPECT_NE(err_.str().find("--operator"), std::string::npos) << err_.str();
  EXPECT_EQ(run({"export", dir_.string(), "--subject", "IIN:9001", "--reason", "court order",
                 "--operator", "aigerim"}),
            2);
  EXPECT_NE(err_.str().find("IIN:<12 digits>"), std::string::npos) << err_.str();
}

TEST_F(CliTest, ExportWhileAGatewayHoldsTheLockPointsToTheAdminApi) {
  const int fd = ::open((dir_ / "LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(run({"export", dir_.string(), "--subject", "IIN:900101300017", "--reason",
                 "court order 12/2026", "--operator", "aigerim"}),
            2);
  EXPECT_NE(err_.str().find("POST /admin/journal/export"), std::string::npos) << err_.str();
  testing::flipByte(b_.eventRecord(4).file, b_.eventRecord(4).offset + 20);
  EXPECT_EQ(run({"repair", dir_.string(), "--jwks", jwks_.string()}), 2);
  EXPECT_NE(out_.str().find("locked"), std::string::npos) << out_.str();
  EXPECT_EQ(run({"repair", dir_.string(), "--jwks", jwks_.string(), "--dry-run"}), 2);
  ::close(fd);
}

TEST_F(CliTest, RepairThenVerifyIsClean) {
  testing::flipByte(b_.eventRecord(4).file, b_.eventRecord(4).offset + 20);
  EXPECT_EQ(run({"verify", dir_.string(), "--jwks", jwks_.string()}), 3);
  EXPECT_EQ(run({"repair", dir_.string(), "--jwks", jwks_.string(), "--dry-run"}), 0);
  EXPECT_NE(out_.str().find("dry run"), std::string::npos) << out_.str();
  EXPECT_EQ(run({"repair", dir_.string(), "--jwks", jwks_.string()}), 0) << out_.str();
  EXPECT_NE(out_.str().find("seq 4..5 leave the live chain"), std::string::npos) << out_.str();
  EXPECT_EQ(run({"verify", dir_.string(), "--jwks", jwks_.string(), "--strict"}), 0) << out_.str();
}

}  // namespace
}  // namespace qaqpa::audit
