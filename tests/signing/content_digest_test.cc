#include "gateway/signing/content_digest.h"

#include <string>

#include <gtest/gtest.h>

#include "tests/signing/vectors.h"

namespace qaqpa::signing {
namespace {

using test::str;
using test::vectors;

TEST(ContentDigest, Rfc9530Example) {
  EXPECT_EQ(contentDigestSha256("{\"hello\": \"world\"}"),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
  EXPECT_EQ(contentDigestSha256(""), "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
}

TEST(ContentDigest, OwnOutputVerifies) {
  const std::string body(100000, 'q');
  EXPECT_EQ(verifyContentDigest(contentDigestSha256(body), body), DigestCheck::Ok);
  EXPECT_EQ(verifyContentDigest(contentDigestSha256(body), body + "!"), DigestCheck::Mismatch);
}

TEST(ContentDigest, VectorsFromPython) {
  int count = 0;
  for (const auto& v : vectors().at("digest_cases").as_array()) {
    const auto& c = v.as_object();
    SCOPED_TRACE(str(c.at("name")));
    EXPECT_EQ(digestCheckName(verifyContentDigest(str(c.at("header")), str(c.at("body")))),
              str(c.at("expect")));
    ++count;
  }
  EXPECT_GE(count, 20);
}

}  // namespace
}  // namespace qaqpa::signing
