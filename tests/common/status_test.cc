#include "gateway/common/status.h"

#include <gtest/gtest.h>

#include <set>
#include <string_view>

#include "gateway/common/failure.h"

namespace qaqpa::common {
namespace {

TEST(Status, CodeNamesMatchTheProtocolTable) {
  static_assert(codeName(StatusCode::AccessDenied) == "ACCESS_DENIED");
  std::set<std::string_view> seen;
  for (int i = 0; i < kStatusCodeCount; ++i) {
    const auto name = codeName(static_cast<StatusCode>(i));
    EXPECT_TRUE(seen.insert(name).second) << name;
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kStatusCodeCount));
}

TEST(Status, HttpStatusesMatchTheProtocolTable) {
  EXPECT_EQ(defaultHttpStatus(StatusCode::Accepted), 202);
  EXPECT_EQ(defaultHttpStatus(StatusCode::ValidationFailed), 400);
  EXPECT_EQ(defaultHttpStatus(StatusCode::AuthFailed), 401);
  EXPECT_EQ(defaultHttpStatus(StatusCode::SignatureInvalid), 401);
  EXPECT_EQ(defaultHttpStatus(StatusCode::AccessDenied), 403);
  EXPECT_EQ(defaultHttpStatus(StatusCode::ConsentRequired), 403);
  EXPECT_EQ(defaultHttpStatus(StatusCode::ServiceNotFound), 404);
  EXPECT_EQ(defaultHttpStatus(StatusCode::Duplicate), 409);
  EXPECT_EQ(defaultHttpStatus(StatusCode::RateLimited), 429);
  EXPECT_EQ(defaultHttpStatus(StatusCode::ProviderError), 502);
  EXPECT_EQ(defaultHttpStatus(StatusCode::ProviderUnavailable), 503);
  EXPECT_EQ(defaultHttpStatus(StatusCode::ProviderTimeout), 504);
  EXPECT_EQ(defaultHttpStatus(StatusCode::Internal), 500);
}

TEST(Failure, HttpStatusDefaultsFromCodeAndCanBeOverridden) {
  Failure f;
  EXPECT_EQ(f.httpStatus(), 500);
  f.code = StatusCode::ValidationFailed;
  f.reason = Reason::BodyTooLarge;
  EXPECT_EQ(f.httpStatus(), 400);
  f.http_status = 413;
  EXPECT_EQ(f.httpStatus(), 413);
}

}  // namespace
}  // namespace qaqpa::common
