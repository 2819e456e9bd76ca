#include "facegate/store/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "facegate/core/config.h"

namespace facegate::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> Parse(const std::string& json_text, StoreOptions* options) {
  nlohmann::json node = nlohmann::json::parse(json_text);
  ConfigErrors errors("/etc/facegate/facegate.json");
  {
    ConfigSection section(&node, "store", &errors, "/etc/facegate");
    ParseStoreOptions(section, options);
    section.Finish();
  }
  return errors.errors();
}

TEST(StoreOptionsTest, DefaultsComeFromTheDataDirectory) {
  StoreOptions o;
  EXPECT_THAT(Parse("{}", &o), IsEmpty());
  ASSERT_TRUE(ApplyDataDirDefaults("/var/lib/facegate", &o).ok());
  EXPECT_EQ(o.db_file, "/var/lib/facegate/facegate.db");
  EXPECT_EQ(o.key_dir, "/var/lib/facegate/keys");
  EXPECT_EQ(o.startup_check, StartupCheck::kQuick);
  EXPECT_EQ(o.key_source, KeySource::kDirectory);
}

TEST(StoreOptionsTest, EveryKey) {
  StoreOptions o;
  EXPECT_THAT(Parse(R"({"file": "db/site.db", "key_dir": "/srv/keys", "startup_check": "full",
                        "busy_timeout_ms": 100, "event_batch_max": 64,
                        "wal_size_limit_bytes": 1048576})",
                    &o),
              IsEmpty());
  EXPECT_EQ(o.db_file, "/etc/facegate/db/site.db");
  EXPECT_EQ(o.key_dir, "/srv/keys");
  EXPECT_EQ(o.startup_check, StartupCheck::kFull);
  EXPECT_EQ(o.busy_timeout_ms, 100);
  EXPECT_EQ(o.event_batch_max, 64);
  EXPECT_EQ(o.wal_size_limit_bytes, 1048576);
  ASSERT_TRUE(ApplyDataDirDefaults("/var/lib/facegate", &o).ok());
  EXPECT_EQ(o.db_file, "/etc/facegate/db/site.db");  // set explicitly: kept
}

TEST(StoreOptionsTest, ErrorsNameTheKey) {
  StoreOptions o;
  EXPECT_THAT(Parse(R"({"startup_check": "sometimes", "event_batch_max": 0, "keydir": "x"})", &o),
              ElementsAre(HasSubstr("store.startup_check"), HasSubstr("store.event_batch_max"),
                          HasSubstr("unknown key 'store.keydir'")));
  StoreOptions both;
  EXPECT_THAT(Parse(R"({"key_source": "systemd-credentials", "key_dir": "/k"})", &both),
              ElementsAre(HasSubstr("store.key_dir")));
}

TEST(StoreOptionsTest, SystemdCredentialsDirectory) {
  StoreOptions o;
  EXPECT_THAT(Parse(R"({"key_source": "systemd-credentials"})", &o), IsEmpty());
  ::unsetenv("CREDENTIALS_DIRECTORY");
  Status missing = ApplyDataDirDefaults("/var/lib/facegate", &o);
  EXPECT_EQ(missing.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.message(), HasSubstr("LoadCredential="));
  ::setenv("CREDENTIALS_DIRECTORY", "/run/credentials/facegated.service", 1);
  ASSERT_TRUE(ApplyDataDirDefaults("/var/lib/facegate", &o).ok());
  EXPECT_EQ(o.key_dir, "/run/credentials/facegated.service");
  ::unsetenv("CREDENTIALS_DIRECTORY");
}

}  // namespace
}  // namespace facegate::store
