// Black-box: the web console's server side over real TLS against facegated: the console's
// files on the admin listener (and not on the terminals'), and a console session that signs
// in, reads, changes with its CSRF token, and signs out. The browser itself: tests/web/.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "blackbox/admin_fixture.h"
#include "testing/temp_dir.h"

namespace facegate::testing {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

class ConsoleTest : public AdminApiTest {
 protected:
  void WriteConsole() {
    std::filesystem::create_directories(site_.path() / "assets");
    WriteFileForTest(site_.path() / "index.html",
                     "<!doctype html><script type=module src=/assets/app-1.js></script>");
    WriteFileForTest(site_.path() / "assets" / "app-1.js", "document.title = 'Facegate'");
    daemon_.config()["admin"]["console_dir"] = site_.path().string();
  }
  TempDir site_;
};

TEST_F(ConsoleTest, TheConsoleIsServedOnTheAdminListenerWithItsPolicy) {
  WriteConsole();
  StartDaemon();
  AdminClient browser(&daemon_, "");
  ApiReply r = browser.Get("/");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_THAT(r.body, HasSubstr("/assets/app-1.js"));
  EXPECT_EQ(r.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_THAT(r.headers["content-security-policy"], HasSubstr("script-src 'self'"));
  r = browser.Get("/assets/app-1.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/javascript; charset=utf-8");
  EXPECT_EQ(browser.Get("/assets/app-2.js").status, 404);
}

TEST_F(ConsoleTest, ASessionSignsInChangesWithItsCsrfTokenAndSignsOut) {
  StartDaemon();
  AdminClient browser(&daemon_, "");
  ApiReply r = browser.Post("/api/v1/session", {{"token", admin_token_}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  std::string cookie = r.headers["set-cookie"];
  EXPECT_THAT(cookie, HasSubstr("HttpOnly"));
  cookie = cookie.substr(0, cookie.find(';'));
  const std::string csrf = r.json.value("csrf_token", "");
  browser.set_header("Cookie", cookie);

  EXPECT_EQ(browser.Get("/api/v1/users").status, 200);
  r = browser.Post("/api/v1/doors", {{"external_id", "D1"}, {"name", "Lobby"}});
  EXPECT_EQ(r.status, 403) << Describe(r);
  EXPECT_EQ(r.json.value("error", ""), "csrf");
  browser.set_header("X-CSRF-Token", csrf);
  r = browser.Post("/api/v1/doors", {{"external_id", "D1"}, {"name", "Lobby"}});
  EXPECT_EQ(r.status, 201) << Describe(r);

  // The audit log names the token behind the session.
  r = admin_->Get("/api/v1/audit?action=door.create");
  ASSERT_EQ(r.status, 200) << Describe(r);
  bool found = false;
  for (const auto& row : r.json["items"]) found |= row.value("action", "") == "door.create";
  EXPECT_TRUE(found) << r.body;

  EXPECT_EQ(browser.Delete("/api/v1/session").status, 204);
  EXPECT_EQ(browser.Get("/api/v1/users").status, 401);
}

}  // namespace
}  // namespace facegate::testing
