#include "blackbox/admin_fixture.h"

#include <regex>

#include "testing/temp_dir.h"

namespace facegate::testing {

ApiReply AdminClient::Call(const std::string& method, const std::string& target,
                           const std::string& body, const std::string& content_type) {
  std::map<std::string, std::string> headers = extra_headers_;
  if (!token_.empty()) headers["Authorization"] = "Bearer " + token_;
  if (!content_type.empty()) headers["Content-Type"] = content_type;
  ApiReply out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!connection_) {
      TlsClientOptions options = daemon_->VerifyingClientOptions();
      options.timeout = std::chrono::seconds(120);
      auto c = daemon_->Connect(daemon_->admin_port(), options);
      if (!c.ok()) {
        ADD_FAILURE() << "connect to the admin listener: " << c.status().ToString();
        return out;
      }
      connection_ = std::move(c).value();
    }
    auto reply = connection_->Request(method, target, body, headers);
    if (!reply.ok()) {
      connection_.reset();  // the server may have closed an idle connection: once more
      if (attempt == 1)
        ADD_FAILURE() << method << " " << target << ": " << reply.status().ToString();
      continue;
    }
    if (!reply->keep_alive) connection_.reset();
    out.status = reply->status;
    out.headers = reply->headers;
    out.body = reply->body;
    out.json = nlohmann::json::parse(out.body, nullptr, false);
    if (out.json.is_discarded()) out.json = nullptr;
    return out;
  }
  return out;
}

std::string Describe(const ApiReply& r) { return std::to_string(r.status) + " " + r.body; }

void AdminApiTest::StartDaemon(bool face) {
  if (face) {
    daemon_.config()["face"] = {{"enabled", true}, {"models_dir", ModelsDir().string()}};
  } else {
    daemon_.config()["face"]["enabled"] = false;
  }
  daemon_.WriteConfig();
  auto init = daemon_.Run({"--init", "--config", daemon_.config_path().string()});
  ASSERT_TRUE(init.ok()) << init.status().ToString();
  std::smatch m;
  std::regex token_re("(fgt_[A-Za-z0-9_-]{43})");
  ASSERT_TRUE(std::regex_search(init->output, m, token_re)) << init->output;
  admin_token_ = m[1];
  Status started = daemon_.Start(std::chrono::seconds(face ? 120 : 20));
  ASSERT_TRUE(started.ok()) << started.ToString();
  admin_ = std::make_unique<AdminClient>(&daemon_, admin_token_);
}

std::string AdminApiTest::MakeToken(const std::string& name, const std::string& role) {
  ApiReply r = admin_->Post("/api/v1/tokens", {{"name", name}, {"role", role}});
  EXPECT_EQ(r.status, 201) << Describe(r);
  if (r.status != 201) return "";
  return r.json.value("token", "");
}

}  // namespace facegate::testing
