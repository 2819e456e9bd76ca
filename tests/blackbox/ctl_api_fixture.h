// CtlApiTest: a started facegated (AdminApiTest) and the real facegatectl run against its
// admin API with --url, --ca and --token-file (a file in the test directory holding the first
// admin token). Thread-safety: none; use from the test's thread.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "blackbox/admin_fixture.h"
#include "blackbox/ctl_runner.h"
#include "facegate/core/clock.h"
#include "facegate/store/store.h"

namespace facegate::testing {

using json = nlohmann::json;

inline json ParseJson(const CtlResult& r) {
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "stdout is not one JSON document (" << e.what() << ")\n" << Describe(r);
    return json();
  }
}

class CtlApiTest : public AdminApiTest {
 protected:
  void SetUp() override {
    StartDaemon();
    token_file_ = WriteToken("admin.token", admin_token_);
  }

  std::filesystem::path WriteToken(const std::string& name, const std::string& token) {
    const auto file = daemon_.dir() / name;
    std::ofstream(file) << token << "\n";
    std::filesystem::permissions(
        file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return file;
  }

  // facegatectl ARGS with the daemon's URL, CA and the admin token.
  CtlResult Ctl(std::vector<std::string> args) { return CtlWith(token_file_, std::move(args)); }
  CtlResult CtlWith(const std::filesystem::path& token_file, std::vector<std::string> args) {
    for (std::string a :
         {std::string("--url"), "https://127.0.0.1:" + std::to_string(daemon_.admin_port()),
          std::string("--ca"), (daemon_.pki_dir() / "ca.crt").string(), std::string("--token-file"),
          token_file.string()}) {
      args.push_back(a);
    }
    return RunCtl(daemon_.dir(), args);
  }

  // Expects exit `code`; for failures, that stderr names `needle`.
  void ExpectExit(const CtlResult& r, int code, const std::string& needle = "") {
    EXPECT_EQ(r.code, code) << Describe(r);
    if (!needle.empty()) {
      EXPECT_THAT(r.err, ::testing::HasSubstr(needle)) << Describe(r);
    }
  }

  std::unique_ptr<store::Store> OpenStore() {
    store::StoreOptions o;
    o.db_file = daemon_.data_dir() / "facegate.db";
    o.key_dir = daemon_.data_dir() / "keys";
    o.create_if_missing = false;
    auto s = store::Store::Open(o, SystemClock::Instance());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  std::filesystem::path token_file_;
};

}  // namespace facegate::testing
