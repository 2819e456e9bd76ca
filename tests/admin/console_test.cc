// The web console's server side in process, with a real store in a temp dir and an injected
// clock so that expiry is tested without waiting. Sessions (src/admin/admin_session.cc): the
// cookie's attributes, CSRF on changes, idle and absolute expiry, sign-out, revocation ending
// a session. The console's files (src/admin/admin_console.cc): content types, caching, ETags,
// the Content-Security-Policy, names that are not served. Over real TLS against facegated:
// tests/blackbox/console_test.cc, and in a real browser: tests/web/.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "facegate/admin/admin_api.h"
#include "facegate/store/store.h"
#include "store/store_testing.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace facegate::admin {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;
  json body;
};

class CapturingSink final : public net::Responder::Sink {
 public:
  void Deliver(net::HttpResponse response) override { promise_.set_value(std::move(response)); }
  std::unique_ptr<net::ChunkedWriter> BeginStream(net::HttpResponse) override { return nullptr; }
  std::future<net::HttpResponse> future() { return promise_.get_future(); }

 private:
  std::promise<net::HttpResponse> promise_;
};

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(""); }

  void Start(const std::string& console_dir) {
    auto store = store::Store::Open(store::testing::MakeOptions(dir_.path()), clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    admin_token_ = AddToken("first-admin", "admin");
    AdminApiOptions options;
    options.session_idle_minutes = 30;
    options.session_max_hours = 12;
    options.console_dir = console_dir;
    AdminApiContext context;
    context.store = store_.get();
    context.clock = &clock_;
    auto api = AdminApi::Create(options, context);
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(api).value();
    api_->AddRoutes(router_);
  }

  std::string AddToken(const std::string& name, const std::string& role) {
    std::string sha;
    auto token = GenerateAdminToken(&sha);
    EXPECT_TRUE(token.ok());
    auto id = store_->CreateAdminToken({name, role, sha, "session_test"});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (id.ok()) token_ids_[name] = *id;
    return token.ok() ? *token : "";
  }

  Answer Call(net::http::verb method, const std::string& target, const std::string& body = "",
              const std::map<std::string, std::string>& headers = {}) {
    auto ctx = std::make_shared<net::RequestContext>();
    ctx->message.method(method);
    ctx->message.target(target);
    ctx->message.version(11);
    for (const auto& [name, value] : headers) ctx->message.set(name, value);
    if (!body.empty()) ctx->message.set(net::http::field::content_type, "application/json");
    ctx->message.body() = body;
    ctx->message.prepare_payload();
    ctx->remote_address = "127.0.0.1";
    net::HttpResponse error;
    const net::Handler* handler = router_.Match(ctx.get(), &error);
    net::HttpResponse res;
    if (!handler) {
      res = std::move(error);
    } else {
      auto sink = std::make_shared<CapturingSink>();
      auto future = sink->future();
      (*handler)(ctx, net::Responder(sink));
      if (future.wait_for(30s) != std::future_status::ready) {
        ADD_FAILURE() << "no answer to " << target;
        return {};
      }
      res = future.get();
    }
    Answer a;
    a.status = static_cast<int>(res.result_int());
    for (const auto& f : res) a.headers[std::string(f.name_string())] = std::string(f.value());
    a.body = json::parse(res.body(), nullptr, false);
    return a;
  }

  // Signs in with `token`; returns the cookie header value and the CSRF token.
  std::pair<std::string, std::string> SignIn(const std::string& token) {
    Answer a = Call(net::http::verb::post, "/api/v1/session", json{{"token", token}}.dump());
    EXPECT_EQ(a.status, 201) << a.body.dump();
    std::string cookie = a.headers["Set-Cookie"];
    cookie = cookie.substr(0, cookie.find(';'));
    return {cookie, a.body.value("csrf_token", "")};
  }

  facegate::testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<AdminApi> api_;
  net::Router router_;
  std::string admin_token_;
  std::map<std::string, int64_t> token_ids_;
};

TEST_F(SessionTest, SignInSetsAHostOnlyHttpOnlyStrictCookieAndAnswersRoleAndCsrf) {
  Answer a = Call(net::http::verb::post, "/api/v1/session", json{{"token", admin_token_}}.dump());
  ASSERT_EQ(a.status, 201) << a.body.dump();
  const std::string cookie = a.headers["Set-Cookie"];
  EXPECT_THAT(cookie, ::testing::StartsWith("__Host-facegate-session="));
  EXPECT_THAT(cookie, HasSubstr("; Path=/"));
  EXPECT_THAT(cookie, HasSubstr("; Secure"));
  EXPECT_THAT(cookie, HasSubstr("; HttpOnly"));
  EXPECT_THAT(cookie, HasSubstr("; SameSite=Strict"));
  EXPECT_EQ(a.body["role"], "admin");
  EXPECT_EQ(a.body["name"], "first-admin");
  EXPECT_EQ(a.body["idle_timeout_s"], 1800);
  EXPECT_EQ(a.body["csrf_token"].get<std::string>().size(), 43u);
  // The cookie is not the token, nor the CSRF token.
  EXPECT_THAT(cookie, ::testing::Not(HasSubstr(admin_token_)));
  EXPECT_THAT(cookie, ::testing::Not(HasSubstr(a.body["csrf_token"].get<std::string>())));
}

TEST_F(SessionTest, ABadTokenOrBodyIsRefusedWithTheReason) {
  Answer a = Call(net::http::verb::post, "/api/v1/session", json{{"token", "fgt_nope"}}.dump());
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.headers.count("Set-Cookie"), 0u);
  a = Call(net::http::verb::post, "/api/v1/session", json{{"tok", "x"}}.dump());
  EXPECT_EQ(a.status, 400);
  EXPECT_TRUE(a.body["fields"].contains("token")) << a.body.dump();
  a = Call(net::http::verb::post, "/api/v1/session", "{not json");
  EXPECT_EQ(a.status, 400);
}

TEST_F(SessionTest, TheCookieAuthenticatesReadsAndChangesNeedTheCsrfToken) {
  auto [cookie, csrf] = SignIn(admin_token_);
  Answer a = Call(net::http::verb::get, "/api/v1/users", "", {{"Cookie", "theme=dark; " + cookie}});
  EXPECT_EQ(a.status, 200) << a.body.dump();

  const std::string door = json{{"external_id", "D1"}, {"name", "Front"}}.dump();
  a = Call(net::http::verb::post, "/api/v1/doors", door, {{"Cookie", cookie}});
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.body["error"], "csrf");
  a = Call(net::http::verb::post, "/api/v1/doors", door,
           {{"Cookie", cookie}, {"X-CSRF-Token", csrf + "x"}});
  EXPECT_EQ(a.status, 403);
  a = Call(net::http::verb::post, "/api/v1/doors", door,
           {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(a.status, 201) << a.body.dump();

  // A bearer token needs no CSRF token: it is not sent by the browser on its own.
  a = Call(net::http::verb::post, "/api/v1/doors",
           json{{"external_id", "D2"}, {"name", "Back"}}.dump(),
           {{"Authorization", "Bearer " + admin_token_}});
  EXPECT_EQ(a.status, 201) << a.body.dump();

  a = Call(net::http::verb::get, "/api/v1/session", "", {{"Cookie", cookie}});
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body["csrf_token"], csrf);
}

TEST_F(SessionTest, IdleAndAbsoluteExpiryEndTheSession) {
  auto [cookie, csrf] = SignIn(admin_token_);
  clock_.Advance(29min);
  EXPECT_EQ(Call(net::http::verb::get, "/api/v1/system", "", {{"Cookie", cookie}}).status, 200);
  clock_.Advance(29min);  // 29 minutes since the last request: still alive
  EXPECT_EQ(Call(net::http::verb::get, "/api/v1/system", "", {{"Cookie", cookie}}).status, 200);
  clock_.Advance(31min);
  Answer a = Call(net::http::verb::get, "/api/v1/system", "", {{"Cookie", cookie}});
  EXPECT_EQ(a.status, 401);
  EXPECT_THAT(a.body.value("message", ""), HasSubstr("expired"));

  // Busy all day: the 12-hour limit ends it anyway.
  auto [busy, busy_csrf] = SignIn(admin_token_);
  for (int i = 0; i < 12 * 3; ++i) {
    clock_.Advance(20min);
    a = Call(net::http::verb::get, "/api/v1/system", "", {{"Cookie", busy}});
    if (a.status != 200) break;
  }
  EXPECT_EQ(a.status, 401);
  EXPECT_THAT(a.body.value("message", ""), HasSubstr("expired"));
}

TEST_F(SessionTest, SignOutEndsTheSessionAndClearsTheCookie) {
  auto [cookie, csrf] = SignIn(admin_token_);
  Answer a = Call(net::http::verb::delete_, "/api/v1/session", "", {{"Cookie", cookie}});
  EXPECT_EQ(a.status, 403) << "signing out is a change: it needs the CSRF token";
  a = Call(net::http::verb::delete_, "/api/v1/session", "",
           {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(a.status, 204);
  EXPECT_THAT(a.headers["Set-Cookie"], HasSubstr("Max-Age=0"));
  a = Call(net::http::verb::get, "/api/v1/session", "", {{"Cookie", cookie}});
  EXPECT_EQ(a.status, 401);
}

TEST_F(SessionTest, RevokingTheTokenEndsItsSessionsAtOnce) {
  const std::string operator_token = AddToken("desk", "operator");
  auto [cookie, csrf] = SignIn(operator_token);
  EXPECT_EQ(Call(net::http::verb::get, "/api/v1/users", "", {{"Cookie", cookie}}).status, 200);
  Answer a = Call(net::http::verb::delete_, "/api/v1/tokens/" + std::to_string(token_ids_["desk"]),
                  "", {{"Authorization", "Bearer " + admin_token_}});
  ASSERT_LT(a.status, 300) << a.body.dump();
  a = Call(net::http::verb::get, "/api/v1/users", "", {{"Cookie", cookie}});
  EXPECT_EQ(a.status, 401);
  EXPECT_THAT(a.body.value("message", ""), HasSubstr("revoked"));
}

TEST_F(SessionTest, ASessionHasItsTokensRoleNoMore) {
  auto [cookie, csrf] = SignIn(AddToken("wall", "viewer"));
  Answer a = Call(net::http::verb::post, "/api/v1/doors",
                  json{{"external_id", "D9"}, {"name", "Roof"}}.dump(),
                  {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.body["error"], "forbidden");
}

TEST_F(SessionTest, AnUnknownCookieIs401) {
  Answer a =
      Call(net::http::verb::get, "/api/v1/system", "",
           {{"Cookie", "__Host-facegate-session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}});
  EXPECT_EQ(a.status, 401);
  EXPECT_THAT(a.body.value("message", ""), HasSubstr("sign in again"));
}

}  // namespace
}  // namespace facegate::admin

namespace facegate::admin {
namespace {

class ConsoleFilesTest : public SessionTest {
 protected:
  void SetUp() override {}
  void WriteConsole() {
    std::filesystem::create_directories(site_.path() / "assets");
    WriteFile(site_.path() / "index.html", "<!doctype html><title>Facegate</title>");
    WriteFile(site_.path() / "assets" / "index-3f2a9c.js", "console.log('hi')");
    WriteFile(site_.path() / "assets" / "index-77ab01.css", "body{}");
    WriteFile(site_.path() / "assets" / "icon-01.svg", "<svg/>");
    WriteFile(site_.path() / "assets" / ".secret", "no");
    WriteFile(site_.path() / "private.txt", "not an asset");
  }
  static void WriteFile(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
  }
  facegate::testing::TempDir site_;
};

TEST_F(ConsoleFilesTest, IndexAndAssetsHaveTheirTypesCachingAndAStrictPolicy) {
  WriteConsole();
  Start(site_.path().string());
  Answer a = Call(net::http::verb::get, "/");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.headers["Content-Type"], "text/html; charset=utf-8");
  EXPECT_EQ(a.headers["Cache-Control"], "no-cache");
  EXPECT_THAT(a.headers["Content-Security-Policy"], HasSubstr("default-src 'none'"));
  EXPECT_THAT(a.headers["Content-Security-Policy"], HasSubstr("script-src 'self'"));
  EXPECT_THAT(a.headers["Content-Security-Policy"], HasSubstr("frame-ancestors 'none'"));
  EXPECT_EQ(a.headers["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(a.headers["X-Frame-Options"], "DENY");
  EXPECT_EQ(a.headers["Referrer-Policy"], "no-referrer");
  const std::string etag = a.headers["ETag"];
  ASSERT_FALSE(etag.empty());

  a = Call(net::http::verb::get, "/", "", {{"If-None-Match", etag}});
  EXPECT_EQ(a.status, 304);

  a = Call(net::http::verb::get, "/assets/index-3f2a9c.js");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.headers["Content-Type"], "text/javascript; charset=utf-8");
  EXPECT_EQ(a.headers["Cache-Control"], "public, max-age=31536000, immutable");
  EXPECT_EQ(Call(net::http::verb::get, "/assets/index-77ab01.css").headers["Content-Type"],
            "text/css; charset=utf-8");
  EXPECT_EQ(Call(net::http::verb::get, "/assets/icon-01.svg").headers["Content-Type"],
            "image/svg+xml");
}

TEST_F(ConsoleFilesTest, OnlyIndexAndPlainlyNamedAssetsAreServed) {
  WriteConsole();
  Start(site_.path().string());
  EXPECT_EQ(Call(net::http::verb::get, "/assets/.secret").status, 404);
  EXPECT_EQ(Call(net::http::verb::get, "/assets/missing.js").status, 404);
  EXPECT_EQ(Call(net::http::verb::get, "/assets/..%2Fprivate.txt").status, 404);
  EXPECT_EQ(Call(net::http::verb::get, "/private.txt").status, 404);
  EXPECT_EQ(Call(net::http::verb::get, "/assets/../private.txt").status, 404);
  EXPECT_EQ(Call(net::http::verb::post, "/").status, 405);
}

TEST_F(ConsoleFilesTest, WithoutAConsoleTheApiStillServes) {
  Start((site_.path() / "nothing-here").string());
  EXPECT_EQ(Call(net::http::verb::get, "/").status, 404);
  EXPECT_EQ(Call(net::http::verb::get, "/api/v1/system", "",
                 {{"Authorization", "Bearer " + admin_token_}})
                .status,
            200);
}

}  // namespace
}  // namespace facegate::admin
