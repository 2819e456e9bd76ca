#include "facegate/core/status.h"

#include <gtest/gtest.h>

namespace facegate {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, FactoriesCarryCodeAndMessage) {
  Status s = Status::NotFound("user 42");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not_found: user 42");
  EXPECT_EQ(Status::Corruption("x").code(), StatusCode::kCorruption);
  EXPECT_EQ(Status::ResourceExhausted("x").code(), StatusCode::kResourceExhausted);
}

TEST(StatusTest, WithContextPrefixesMessageOnlyWhenFailed) {
  EXPECT_EQ(Status::IOError("disk full").WithContext("events").message(), "events: disk full");
  EXPECT_TRUE(Status::Ok().WithContext("events").ok());
}

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument("odd");
  return v / 2;
}

Status UseMacro(int v, int* out) {
  auto r = Half(v);
  FACEGATE_RETURN_IF_ERROR(r.status());
  *out = *r;
  return Status::Ok();
}

TEST(ResultTest, ValueOrStatus) {
  auto good = Half(8);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 4);
  auto bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "odd");
  int out = 0;
  EXPECT_EQ(UseMacro(3, &out).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(UseMacro(10, &out).ok());
  EXPECT_EQ(out, 5);
}

}  // namespace
}  // namespace facegate
