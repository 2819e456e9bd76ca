#include "facegate/net/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "net/test_server.h"
#include "testing/tls_client.h"

namespace facegate::net {
namespace {

using test::TestCa;
using test::TestServer;
using ::testing::HasSubstr;
using TlsClientOptions = facegate::testing::TlsClientOptions;

constexpr char kTlsHandshakeFailuresMetric[] = "facegate_tls_handshake_failures_total";
constexpr char kDevice[] = "listener=\"device\"";

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ca_.ok());
    ASSERT_TRUE(other_ca_.ok());
    server_pair_ = ca_.IssueServer();
    ASSERT_FALSE(server_pair_.certificate_pem.empty());
  }

  void StartServer(ClientCertificateMode mode = ClientCertificateMode::kNone) {
    TlsServerConfig config = test::ServerConfig(server_pair_);
    config.client_certificates = mode;
    if (mode != ClientCertificateMode::kNone) config.client_ca_pem = ca_.pem();
    auto ctx = test::MakeContextOrFail(config);
    ASSERT_TRUE(ctx);
    StartServerWith(std::move(ctx));
  }

  void StartServerWith(std::shared_ptr<boost::asio::ssl::context> ctx) {
    server_ = std::make_unique<TestServer>(test::TestListenerOptions(), std::move(ctx));
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  // Client options that verify the server against our CA.
  TlsClientOptions Verified() const {
    TlsClientOptions o;
    o.ca_pem = ca_.pem();
    return o;
  }

  TlsClientOptions WithClientCertificate(const CertificateAndKey& pair) const {
    TlsClientOptions o = Verified();
    o.client_cert_pem = pair.certificate_pem;
    o.client_key_pem = pair.private_key_pem;
    return o;
  }

  // What GET /whoami answers on a new connection, or why there was no answer. In TLS 1.3 the
  // client finishes its handshake before the server has checked the client certificate, so a
  // refusal may only show on the first read.
  Result<std::string> WhoAmI(const TlsClientOptions& options) {
    auto client = server_->Connect(options);
    if (!client.ok()) return client.status();
    Result<facegate::testing::HttpReply> reply = (*client)->Request("GET", "/whoami");
    if (!reply.ok()) return reply.status();
    if (reply->status != 200) {
      return Status::Internal("status " + std::to_string(reply->status) + ": " + reply->body);
    }
    return reply->body;
  }

  double HandshakeFailures() const { return server_->Metric(kTlsHandshakeFailuresMetric, kDevice); }

  TestCa ca_;
  TestCa other_ca_;
  CertificateAndKey server_pair_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(TlsTest, ContextAllowsExactlyTls12AndTls13) {
  auto ctx = test::MakeContextOrFail(test::ServerConfig(server_pair_));
  ASSERT_TRUE(ctx);
  SSL_CTX* native = ctx->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(native), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(native), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(native), SSL_VERIFY_NONE);  // kNone asks for no client cert

  TlsServerConfig optional = test::ServerConfig(server_pair_);
  optional.client_certificates = ClientCertificateMode::kOptional;
  optional.client_ca_pem = ca_.pem();
  auto optional_ctx = test::MakeContextOrFail(optional);
  ASSERT_TRUE(optional_ctx);
  EXPECT_EQ(SSL_CTX_get_verify_mode(optional_ctx->native_handle()), SSL_VERIFY_PEER);

  TlsServerConfig required = optional;
  required.client_certificates = ClientCertificateMode::kRequired;
  auto required_ctx = test::MakeContextOrFail(required);
  ASSERT_TRUE(required_ctx);
  EXPECT_EQ(SSL_CTX_get_verify_mode(required_ctx->native_handle()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(required_ctx->native_handle()), TLS1_2_VERSION);
}

TEST_F(TlsTest, ModernClientNegotiatesTls13) {
  StartServer();
  auto client = server_->Connect(Verified());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->protocol_version(), "TLSv1.3");
  // The server presents the certificate it was configured with.
  EXPECT_EQ(test::SerialOf((*client)->peer_certificate_pem()),
            test::SerialOf(server_pair_.certificate_pem));
  auto reply = (*client)->Request("GET", "/hello");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "hi");
}

TEST_F(TlsTest, ClientLimitedToTls12NegotiatesTls12) {
  StartServer();
  TlsClientOptions o = Verified();
  o.max_version = TLS1_2_VERSION;
  auto client = server_->Connect(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->protocol_version(), "TLSv1.2");
  auto reply = (*client)->Request("GET", "/hello");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200);
}

TEST_F(TlsTest, Tls12ClientWithoutAeadCiphersIsRefused) {
  StartServer();
  TlsClientOptions cbc_only = Verified();
  cbc_only.max_version = TLS1_2_VERSION;
  cbc_only.cipher_list = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384";
  auto refused = server_->Connect(cbc_only);
  EXPECT_FALSE(refused.ok()) << "negotiated " << (*refused)->protocol_version();

  TlsClientOptions gcm_only = cbc_only;
  gcm_only.cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256";
  auto accepted = server_->Connect(gcm_only);
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ((*accepted)->protocol_version(), "TLSv1.2");
}

// A client that offers only TLS 1.0 and 1.1 (and lowers its security level so that OpenSSL
// lets it offer them at all).
TlsClientOptions OldProtocolClient() {
  TlsClientOptions o;
  o.cipher_list = "DEFAULT:@SECLEVEL=0";
  o.min_version = TLS1_VERSION;
  o.max_version = TLS1_1_VERSION;
  return o;
}

TEST_F(TlsTest, ClientOfferingOnlyTls10And11IsRefused) {
  // The client side can be configured this way: the refusal below is the server's doing.
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(client_ctx, nullptr);
  EXPECT_EQ(SSL_CTX_set_cipher_list(client_ctx, "DEFAULT:@SECLEVEL=0"), 1);
  EXPECT_EQ(SSL_CTX_set_min_proto_version(client_ctx, TLS1_VERSION), 1);
  EXPECT_EQ(SSL_CTX_set_max_proto_version(client_ctx, TLS1_1_VERSION), 1);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(client_ctx), TLS1_1_VERSION);
  EXPECT_EQ(SSL_CTX_get_security_level(client_ctx), 0);
  SSL_CTX_free(client_ctx);

  StartServer();
  auto client = server_->Connect(OldProtocolClient());
  EXPECT_FALSE(client.ok()) << "negotiated " << (*client)->protocol_version();
  EXPECT_TRUE(test::Eventually([&] { return HandshakeFailures() == 1; }))
      << "handshake failures: " << HandshakeFailures();
}

// The control for the test above: the same client completes a TLS 1.0/1.1 handshake with a
// server whose context was loosened after MakeServerTlsContext.
TEST_F(TlsTest, OldProtocolClientWorksWhenServerAllowsOldVersions) {
  auto ctx = test::MakeContextOrFail(test::ServerConfig(server_pair_));
  ASSERT_TRUE(ctx);
  ASSERT_EQ(SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_VERSION), 1);
  ASSERT_EQ(SSL_CTX_set_cipher_list(ctx->native_handle(), "DEFAULT:@SECLEVEL=0"), 1);
  StartServerWith(std::move(ctx));
  auto client = server_->Connect(OldProtocolClient());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_THAT((*client)->protocol_version(), ::testing::AnyOf("TLSv1", "TLSv1.1"));
}

TEST_F(TlsTest, OptionalModeAcceptsClientWithoutCertificate) {
  StartServer(ClientCertificateMode::kOptional);
  Result<std::string> who = WhoAmI(Verified());
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(*who, "none");  // RequestContext::peer_certificate is empty
}

TEST_F(TlsTest, OptionalModeReportsVerifiedClientCertificate) {
  StartServer(ClientCertificateMode::kOptional);
  CertificateAndKey terminal = ca_.IssueClient("terminal-7");
  ASSERT_FALSE(terminal.certificate_pem.empty());
  for (int max_version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(max_version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2");
    TlsClientOptions o = WithClientCertificate(terminal);
    o.max_version = max_version;
    Result<std::string> who = WhoAmI(o);
    ASSERT_TRUE(who.ok()) << who.status().ToString();
    EXPECT_EQ(*who, test::SerialOf(terminal.certificate_pem));
    EXPECT_FALSE(who->empty());
  }
}

TEST_F(TlsTest, OptionalModeRefusesCertificateFromAnotherCa) {
  StartServer(ClientCertificateMode::kOptional);
  CertificateAndKey stranger = other_ca_.IssueClient("terminal-from-elsewhere");
  ASSERT_FALSE(stranger.certificate_pem.empty());

  // TLS 1.2: the client's handshake itself fails.
  TlsClientOptions o12 = WithClientCertificate(stranger);
  o12.max_version = TLS1_2_VERSION;
  auto client12 = server_->Connect(o12);
  EXPECT_FALSE(client12.ok());
  EXPECT_TRUE(test::Eventually([&] { return HandshakeFailures() == 1; }));

  // TLS 1.3: the refusal arrives after the client's side of the handshake; no request gets
  // through either way.
  Result<std::string> who = WhoAmI(WithClientCertificate(stranger));
  EXPECT_FALSE(who.ok()) << "the server answered " << *who;
  EXPECT_TRUE(test::Eventually([&] { return HandshakeFailures() == 2; }))
      << "handshake failures: " << HandshakeFailures();

  // The same server still takes a client with a good certificate.
  Result<std::string> good = WhoAmI(WithClientCertificate(ca_.IssueClient()));
  EXPECT_TRUE(good.ok()) << good.status().ToString();
}

// LocalCa issues serverAuth-only certificates; OpenSSL checks the client purpose, so such a
// certificate cannot be used as a client certificate even though its chain is good. This is
// why the tests make client certificates themselves (TestCa::IssueClient).
TEST_F(TlsTest, ServerAuthOnlyCertificateIsNotAcceptedAsClientCertificate) {
  StartServer(ClientCertificateMode::kOptional);
  Result<std::string> who = WhoAmI(WithClientCertificate(ca_.IssueServer("not-a-client")));
  EXPECT_FALSE(who.ok()) << "the server answered " << *who;
}

TEST_F(TlsTest, RequiredModeRefusesClientWithoutCertificate) {
  StartServer(ClientCertificateMode::kRequired);
  Result<std::string> who = WhoAmI(Verified());
  EXPECT_FALSE(who.ok()) << "the server answered " << *who;
  EXPECT_TRUE(test::Eventually([&] { return HandshakeFailures() == 1; }))
      << "handshake failures: " << HandshakeFailures();

  TlsClientOptions o12 = Verified();
  o12.max_version = TLS1_2_VERSION;
  EXPECT_FALSE(server_->Connect(o12).ok());
}

TEST_F(TlsTest, RequiredModeAcceptsCertificateFromCa) {
  StartServer(ClientCertificateMode::kRequired);
  CertificateAndKey terminal = ca_.IssueClient();
  Result<std::string> who = WhoAmI(WithClientCertificate(terminal));
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(*who, test::SerialOf(terminal.certificate_pem));
}

TEST_F(TlsTest, BadCertificateOrKeyIsAnError) {
  CertificateAndKey other = ca_.IssueServer("other");

  TlsServerConfig not_pem = test::ServerConfig(server_pair_);
  not_pem.certificate_chain_pem = "not a certificate";
  auto r1 = MakeServerTlsContext(not_pem);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r1.status().message(), HasSubstr("certificate"));

  TlsServerConfig bad_key = test::ServerConfig(server_pair_);
  bad_key.private_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  auto r2 = MakeServerTlsContext(bad_key);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r2.status().message(), HasSubstr("private key"));

  TlsServerConfig mismatched = test::ServerConfig(server_pair_);
  mismatched.private_key_pem = other.private_key_pem;
  auto r3 = MakeServerTlsContext(mismatched);
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r3.status().message(), HasSubstr("does not match"));

  TlsServerConfig no_client_ca = test::ServerConfig(server_pair_);
  no_client_ca.client_certificates = ClientCertificateMode::kRequired;
  auto r4 = MakeServerTlsContext(no_client_ca);
  ASSERT_FALSE(r4.ok());
  EXPECT_THAT(r4.status().message(), HasSubstr("client CA"));

  TlsServerConfig garbage_ca = test::ServerConfig(server_pair_);
  garbage_ca.client_certificates = ClientCertificateMode::kOptional;
  garbage_ca.client_ca_pem = "not a certificate";
  EXPECT_FALSE(MakeServerTlsContext(garbage_ca).ok());

  // And the good pair is accepted (the failures above are about the input).
  EXPECT_TRUE(MakeServerTlsContext(test::ServerConfig(server_pair_)).ok());
}

// A damaged certificate after the leaf (a truncated copy, a bad paste) must not be dropped
// silently: the server would then send an incomplete chain and every terminal would fail to
// verify it, far from the cause. Text that is not PEM at all after the chain is fine.
TEST_F(TlsTest, DamagedChainCertificateIsAnError) {
  // The CA certificate with one line of its base64 lost.
  std::string damaged_block = other_ca_.pem();
  size_t second_line = damaged_block.find('\n') + 1;
  damaged_block.erase(second_line, damaged_block.find('\n', second_line) + 1 - second_line);
  ASSERT_FALSE(test::ParseFirstCertificate(damaged_block)) << "the damage went unnoticed";

  TlsServerConfig chain = test::ServerConfig(server_pair_);
  chain.certificate_chain_pem += damaged_block;
  auto damaged_chain = MakeServerTlsContext(chain);
  EXPECT_FALSE(damaged_chain.ok()) << "a damaged chain certificate was ignored";

  TlsServerConfig client_ca = test::ServerConfig(server_pair_);
  client_ca.client_certificates = ClientCertificateMode::kRequired;
  client_ca.client_ca_pem = ca_.pem() + damaged_block;
  auto damaged_ca = MakeServerTlsContext(client_ca);
  EXPECT_FALSE(damaged_ca.ok()) << "a damaged client CA certificate was ignored";

  TlsServerConfig trailing = test::ServerConfig(server_pair_);
  trailing.certificate_chain_pem += "\n# issued by the local CA\n";
  auto with_comment = MakeServerTlsContext(trailing);
  EXPECT_TRUE(with_comment.ok()) << with_comment.status().ToString();
}

}  // namespace
}  // namespace facegate::net
