// Black-box: facegated's command line (--init, --version, --help, --check-host, unknown
// arguments), and the host check a start makes (a CPU without AVX2 is shown with glibc's own
// mask, GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2, on a machine that has it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "blackbox/demo_faces.h"
#include "blackbox/facegated_fixture.h"
#include "facegate/core/version.h"
#include "facegate/net/pki.h"

namespace facegate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(DaemonCliTest, InitCreatesTheDataDirAndExitsWithoutServing) {
  FacegatedUnderTest daemon;
  daemon.WriteConfig();
  auto run = daemon.Run({"--init", "--config", daemon.config_path().string()});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << "--init kept running; output:\n" << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 0") << run->output;

  EXPECT_EQ(ModeOf(daemon.data_dir()), 0750u);
  EXPECT_EQ(ModeOf(daemon.pki_dir()), 0700u);
  EXPECT_EQ(ModeOf(daemon.pki_dir() / "ca.key"), 0600u);
  EXPECT_EQ(ModeOf(daemon.pki_dir() / "server.key"), 0600u);
  EXPECT_TRUE(std::filesystem::exists(daemon.pki_dir() / "ca.crt"));
  EXPECT_TRUE(std::filesystem::exists(daemon.pki_dir() / "server.crt"));
  auto template_key = daemon.data_dir() / "keys" / "template.key";
  EXPECT_EQ(ModeOf(template_key), 0600u);
  std::error_code ec;
  EXPECT_EQ(std::filesystem::file_size(template_key, ec), 32u) << ec.message();
  // Nothing was bound, so nothing was announced.
  EXPECT_FALSE(std::filesystem::exists(daemon.ports_file()));
  EXPECT_THAT(run->output, ::testing::Not(HasSubstr("listener=")));

  // The first admin token is printed once; only its SHA-256 is stored, and it is not logged.
  std::smatch m;
  std::regex token_re("First admin token[^\n]*\n(fgt_[A-Za-z0-9_-]{43})\n");
  ASSERT_TRUE(std::regex_search(run->output, m, token_re)) << run->output;
  const std::string token = m[1];
  EXPECT_EQ(run->output.find(token), run->output.rfind(token)) << "the token appears twice";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2((daemon.data_dir() / "facegate.db").c_str(), &db,
                              SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name, role, token_hash FROM admin_tokens", -1, &stmt,
                                 nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "first-admin");
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)), "admin");
    ASSERT_EQ(sqlite3_column_bytes(stmt, 2), SHA256_DIGEST_LENGTH);
    EXPECT_EQ(std::memcmp(sqlite3_column_blob(stmt, 2), digest, SHA256_DIGEST_LENGTH), 0);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE) << "exactly one token";
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }

  // A later start uses what --init made.
  auto ca = net::InspectCertificatePem(daemon.ca_pem());
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  auto again = daemon.Run({"--init", "--config", daemon.config_path().string()});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE(again->exit.has_value()) << again->output;
  EXPECT_EQ(again->exit->ToString(), "exit code 0") << again->output;
  EXPECT_THAT(again->output, HasSubstr("An admin token exists already"));
  EXPECT_THAT(again->output, ::testing::Not(HasSubstr("fgt_")));
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  EXPECT_THAT(daemon.log(), ::testing::Not(HasSubstr(token)));
  auto served_ca = net::InspectCertificatePem(daemon.ca_pem());
  ASSERT_TRUE(served_ca.ok()) << served_ca.status().ToString();
  EXPECT_EQ(served_ca->sha256_fingerprint_hex, ca->sha256_fingerprint_hex);
  auto exit = daemon.Stop();
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 0") << daemon.log();
}

TEST(DaemonCliTest, ConfigMayBeGivenWithAnEqualsSign) {
  FacegatedUnderTest daemon;
  daemon.WriteConfig();
  auto run = daemon.Run({"--check-config", "--config=" + daemon.config_path().string()});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 0") << run->output;
  auto short_form = daemon.Run({"-c", daemon.config_path().string(), "--check-config"});
  ASSERT_TRUE(short_form.ok()) << short_form.status().ToString();
  ASSERT_TRUE(short_form->exit.has_value()) << short_form->output;
  EXPECT_EQ(short_form->exit->ToString(), "exit code 0") << short_form->output;
}

TEST(DaemonCliTest, VersionPrintsTheVersionAndExitsZero) {
  FacegatedUnderTest daemon;
  auto run = daemon.Run({"--version"});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 0") << run->output;
  EXPECT_THAT(run->output, StartsWith("facegated " + std::string(Version())));
}

TEST(DaemonCliTest, HelpExitsZeroAndDescribesTheOptions) {
  FacegatedUnderTest daemon;
  for (const char* flag : {"--help", "-h"}) {
    SCOPED_TRACE(flag);
    auto run = daemon.Run({flag});
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ASSERT_TRUE(run->exit.has_value()) << run->output;
    EXPECT_EQ(run->exit->ToString(), "exit code 0") << run->output;
    EXPECT_THAT(run->output, HasSubstr("--config"));
    EXPECT_THAT(run->output, HasSubstr("--init"));
    EXPECT_THAT(run->output, HasSubstr("--check-config"));
  }
}

TEST(DaemonCliTest, UnknownArgumentExitsTwo) {
  FacegatedUnderTest daemon;
  daemon.WriteConfig();
  auto run = daemon.Run({"--config", daemon.config_path().string(), "--frobnicate"});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  ASSERT_TRUE(run->exit.has_value()) << run->output;
  EXPECT_EQ(run->exit->ToString(), "exit code 2") << run->output;
  EXPECT_THAT(run->output, HasSubstr("--frobnicate"));
  EXPECT_FALSE(std::filesystem::exists(daemon.data_dir()));

  auto missing_value = daemon.Run({"--config"});
  ASSERT_TRUE(missing_value.ok()) << missing_value.status().ToString();
  ASSERT_TRUE(missing_value->exit.has_value()) << missing_value->output;
  EXPECT_EQ(missing_value->exit->ToString(), "exit code 2") << missing_value->output;
}

constexpr const char* kMaskAvx2 = "glibc.cpu.hwcaps=-AVX2";

nlohmann::json CheckHostJson(FacegatedUnderTest& daemon, int expected_exit) {
  daemon.WriteConfig();
  auto run = daemon.Run({"--check-host", "--json", "--config", daemon.config_path().string()});
  EXPECT_TRUE(run.ok()) << run.status().ToString();
  if (!run.ok()) return nullptr;
  EXPECT_TRUE(run->exit && run->exit->code == expected_exit) << run->output;
  const auto j = nlohmann::json::parse(run->output, nullptr, false);
  EXPECT_TRUE(j.is_object()) << run->output;
  return j;
}

// --check-host reads this machine: what /proc and statfs say, and a verdict that matches.
TEST(DaemonCliTest, CheckHostReportsThisMachineAndItsVerdict) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    GTEST_SKIP() << "this CPU has no AVX2+FMA: the masked case below is the real one here";
  }
  FacegatedUnderTest daemon;
  const auto j = CheckHostJson(daemon, 0);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["cpu_avx2_fma"], true) << j.dump(2);
  EXPECT_EQ(j["ok"], true) << j.dump(2);
  EXPECT_GT(j.value("memory_bytes", 0ull), 256ull << 20) << j.dump(2);
  EXPECT_FALSE(j.value("data_dir_filesystem", "").empty()) << j.dump(2);
  bool warned_unencrypted = false;
  for (const auto& w : j["warnings"]) warned_unencrypted |= w["name"] == "storage_not_encrypted";
  EXPECT_EQ(warned_unencrypted, j["storage_encrypted"] == false) << j.dump(2);

  // The human form says the same.
  auto text = daemon.Run({"--check-host", "--config", daemon.config_path().string()});
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(text->output, HasSubstr("AVX2 with FMA yes"));
  EXPECT_THAT(text->output, HasSubstr("OK ("));
}

// Without AVX2 the daemon refuses to start, naming the requirement and the way round it;
// with server.allow_no_avx2 it starts on the portable kernels and says so in /readyz.
TEST(DaemonCliTest, ACpuWithoutAvx2IsRefusedUnlessAllowedAndThenRunsTheScalarKernels) {
  FacegatedUnderTest daemon;
  daemon.env()["GLIBC_TUNABLES"] = kMaskAvx2;
  const auto j = CheckHostJson(daemon, 1);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["cpu_avx2_fma"], false) << j.dump(2);
  EXPECT_THAT(j.value("refusal", ""), HasSubstr("allow_no_avx2"));

  Status refused = daemon.Start();
  EXPECT_FALSE(refused.ok());
  auto exit = daemon.process().WaitForExit(std::chrono::seconds(10));
  ASSERT_TRUE(exit.has_value()) << daemon.log();
  EXPECT_EQ(exit->ToString(), "exit code 1") << daemon.log();
  EXPECT_THAT(daemon.log(), HasSubstr("no AVX2 with FMA"));
  EXPECT_THAT(daemon.log(), HasSubstr("server.allow_no_avx2"));
  EXPECT_FALSE(std::filesystem::exists(daemon.ports_file())) << "nothing was served";

  daemon.config()["server"]["allow_no_avx2"] = true;
  const bool face = std::filesystem::exists(ModelsDir() / "shape_predictor_68_face_landmarks.dat");
  if (face) {
    // With the face engine the gallery starts too, and its search runs the portable kernels.
    daemon.config()["face"] = {
        {"enabled", true}, {"models_dir", ModelsDir().string()}, {"workers", 1}};
  }
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  auto client = daemon.Connect(daemon.admin_port());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto ready = (*client)->Request("GET", "/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status().ToString();
  const auto report = nlohmann::json::parse(ready->body, nullptr, false);
  ASSERT_TRUE(report.is_object()) << ready->body;
  bool warned = false;
  for (const auto& w : report["warnings"]) warned |= w["name"] == "no_avx2";
  EXPECT_TRUE(warned) << ready->body;
  EXPECT_THAT(daemon.log(), HasSubstr("avx2_fma=no"));
  if (face) {
    EXPECT_THAT(report["checks"]["gallery"].value("detail", ""), HasSubstr("simd=scalar"))
        << ready->body;
  }
}

}  // namespace
}  // namespace facegate::testing
