// AdminApiTest: a facegated initialised with `--init` (which prints the first admin token)
// and started, plus an admin API client that speaks JSON over real TLS to its admin
// listener, verifying the daemon's local CA. Tokens of other roles are made through the API.
// Thread-safety: none; use from the test's thread (one client per thread).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "blackbox/demo_faces.h"
#include "blackbox/facegated_fixture.h"
#include "testing/tls_client.h"

namespace facegate::testing {

struct ApiReply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  nlohmann::json json;  // the body parsed (null when it is not JSON)
};

class AdminClient {
 public:
  AdminClient(const FacegatedUnderTest* daemon, std::string token)
      : daemon_(daemon), token_(std::move(token)) {}

  // One request; the connection is kept and re-opened when the server closed it. A transport
  // failure is a test failure (status 0 in the reply).
  ApiReply Call(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& content_type = "");
  ApiReply Get(const std::string& target) { return Call("GET", target); }
  ApiReply Delete(const std::string& target) { return Call("DELETE", target); }
  ApiReply Post(const std::string& target, const nlohmann::json& body) {
    return Call("POST", target, body.dump(), "application/json");
  }
  ApiReply Patch(const std::string& target, const nlohmann::json& body) {
    return Call("PATCH", target, body.dump(), "application/json");
  }
  ApiReply Put(const std::string& target, const nlohmann::json& body) {
    return Call("PUT", target, body.dump(), "application/json");
  }
  const std::string& token() const { return token_; }
  void set_token(std::string token) { token_ = std::move(token); }
  // Sent with every request from now on (a browser's Cookie, X-CSRF-Token); "" removes it.
  void set_header(const std::string& name, std::string value) {
    if (value.empty()) {
      extra_headers_.erase(name);
    } else {
      extra_headers_[name] = std::move(value);
    }
  }

 private:
  const FacegatedUnderTest* daemon_;
  std::string token_;  // "" sends no Authorization header
  std::map<std::string, std::string> extra_headers_;
  std::unique_ptr<TlsClient> connection_;
};

// Text for assertion messages: "<status> <body>".
std::string Describe(const ApiReply& r);

class AdminApiTest : public ::testing::Test {
 protected:
  // Runs --init and starts the daemon; `face` enables the face engine (slow: loads models).
  void StartDaemon(bool face = false);
  void SetUp() override {}

  // A token of `role` made by the admin through the API.
  std::string MakeToken(const std::string& name, const std::string& role);

  FacegatedUnderTest daemon_;
  std::string admin_token_;
  std::unique_ptr<AdminClient> admin_;
};

}  // namespace facegate::testing
