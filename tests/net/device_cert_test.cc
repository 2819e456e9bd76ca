// Device certificates: CSR checks, what LocalCa::IssueDeviceCertificate puts in a certificate,
// verification against the CA, and a real mTLS handshake on loopback with an issued
// certificate (accepted) and one from another CA (refused during the handshake).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "facegate/net/pki.h"
#include "net/test_server.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"
#include "testing/tls_client.h"

namespace facegate::net {
namespace {

using std::chrono::hours;
using test::BioPtr;
using test::PkeyPtr;
using test::X509Ptr;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

template <auto FreeFn>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};
using ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Free<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX_free>>;
// sk_X509_EXTENSION_pop_free is a macro-generated inline, not a function to pass as a value.
struct ExtStackFree {
  void operator()(STACK_OF(X509_EXTENSION) * exts) const {
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
};
using ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtStackFree>;

constexpr hours kCaValidity = hours(24 * 365 * 10);

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

PkeyPtr EcKey(const char* curve) { return PkeyPtr(EVP_EC_gen(curve)); }
PkeyPtr RsaKey(unsigned int bits) { return PkeyPtr(EVP_RSA_gen(bits)); }
PkeyPtr Ed25519Key() { return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); }

std::string PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  return BioText(bio.get());
}

// A CSR for `key` with subject CN=`common_name`. With `hostile_extensions` it asks for
// everything a terminal must not get: CA:TRUE, keyCertSign, serverAuth, a host name.
ReqPtr MakeCsr(EVP_PKEY* key, const std::string& common_name, bool hostile_extensions = false) {
  ReqPtr req(X509_REQ_new());
  EXPECT_TRUE(req);
  EXPECT_EQ(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1), 1);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  EXPECT_EQ(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                       -1, -1, 0),
            1);
  EXPECT_EQ(X509_REQ_set_pubkey(req.get(), key), 1);
  if (hostile_extensions) {
    ExtStackPtr exts(sk_X509_EXTENSION_new_null());
    for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                              std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                              std::pair{NID_ext_key_usage, "serverAuth,clientAuth"},
                              std::pair{NID_subject_alt_name, "DNS:facegate.example"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, nid, value);
      EXPECT_NE(ext, nullptr);
      sk_X509_EXTENSION_push(exts.get(), ext);
    }
    EXPECT_EQ(X509_REQ_add_extensions(req.get(), exts.get()), 1);
  }
  // Ed25519 signs without a separate digest.
  const EVP_MD* md = EVP_PKEY_is_a(key, "ED25519") ? nullptr : EVP_sha256();
  EXPECT_GT(X509_REQ_sign(req.get(), key, md), 0) << OpenSslErrors();
  return req;
}

std::string CsrPem(X509_REQ* req) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_X509_REQ(bio.get(), req), 1);
  return BioText(bio.get());
}

std::string CsrPem(EVP_PKEY* key, const std::string& common_name = "terminal-claims-this",
                   bool hostile_extensions = false) {
  ReqPtr req = MakeCsr(key, common_name, hostile_extensions);
  return CsrPem(req.get());
}

// The CSR with the last byte of its DER (inside the signature value) changed.
std::string TamperedCsrPem(EVP_PKEY* key) {
  ReqPtr req = MakeCsr(key, "terminal");
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  EXPECT_GT(len, 0);
  der[len - 1] ^= 0x01;
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_GT(PEM_write_bio(bio.get(), "CERTIFICATE REQUEST", "", der, len), 0);
  OPENSSL_free(der);
  return BioText(bio.get());
}

std::unique_ptr<LocalCa> OpenCa(const std::filesystem::path& dir, const Clock& clock,
                                hours validity = kCaValidity) {
  Result<std::unique_ptr<LocalCa>> ca = LocalCa::OpenOrCreate(dir, clock, validity);
  EXPECT_TRUE(ca.ok()) << ca.status().ToString();
  return ca.ok() ? std::move(ca).value() : nullptr;
}

DeviceCertificateRequest DeviceRequest(const std::string& csr_pem,
                                       const std::string& identity = "device-17") {
  DeviceCertificateRequest r;
  r.csr_pem = csr_pem;
  r.device_identity = identity;
  r.validity = hours(24 * 90);
  return r;
}

// X509_verify_cert of `leaf_pem` with `ca_pem` as the only anchor, for TLS client use, strict.
struct VerifyOutcome {
  bool ok = false;
  int error = X509_V_OK;
};
VerifyOutcome VerifyClientCertificate(const std::string& leaf_pem, const std::string& ca_pem,
                                      Clock::WallTime at) {
  X509Ptr leaf = test::ParseFirstCertificate(leaf_pem);
  X509Ptr ca = test::ParseFirstCertificate(ca_pem);
  EXPECT_TRUE(leaf && ca);
  if (!leaf || !ca) return {};
  StorePtr store(X509_STORE_new());
  EXPECT_EQ(X509_STORE_add_cert(store.get(), ca.get()), 1);
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  EXPECT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr), 1);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(at));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_CLIENT);
  VerifyOutcome out;
  out.ok = X509_verify_cert(ctx.get()) == 1;
  out.error = X509_STORE_CTX_get_error(ctx.get());
  return out;
}

class DeviceCertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = OpenCa(dir_ / "pki", clock_);
    ASSERT_TRUE(ca_);
  }

  IssuedDeviceCertificate Issue(const std::string& csr_pem,
                                const std::string& identity = "device-17") {
    Result<IssuedDeviceCertificate> issued =
        ca_->IssueDeviceCertificate(DeviceRequest(csr_pem, identity));
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    return issued.ok() ? std::move(issued).value() : IssuedDeviceCertificate{};
  }

  // The refusal of `csr_pem` by InspectCsrPem and by IssueDeviceCertificate (the same).
  Status Refusal(const std::string& csr_pem) {
    Result<CsrInfo> inspected = InspectCsrPem(csr_pem);
    EXPECT_FALSE(inspected.ok());
    Result<IssuedDeviceCertificate> issued = ca_->IssueDeviceCertificate(DeviceRequest(csr_pem));
    EXPECT_FALSE(issued.ok());
    if (inspected.ok() || issued.ok()) return Status::Ok();
    EXPECT_EQ(inspected.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(issued.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(inspected.status().message(), issued.status().message());
    EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL errors left queued";
    return inspected.status();
  }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  std::unique_ptr<LocalCa> ca_;
};

TEST_F(DeviceCertTest, InspectCsrReportsKeyAndSubject) {
  PkeyPtr p256 = EcKey("P-256");
  Result<CsrInfo> info = InspectCsrPem(CsrPem(p256.get(), "terminal-by-door-3"));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->key_type, "EC P-256");
  EXPECT_EQ(info->key_bits, 256);
  EXPECT_EQ(info->subject_common_name, "terminal-by-door-3");
  EXPECT_THAT(info->public_key_sha256_hex, MatchesRegex("([0-9A-F]{2}:){31}[0-9A-F]{2}"));
  // Same key, another CSR: same fingerprint; another key: another fingerprint.
  Result<CsrInfo> again = InspectCsrPem(CsrPem(p256.get(), "x"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key_sha256_hex, info->public_key_sha256_hex);

  PkeyPtr p384 = EcKey("P-384");
  Result<CsrInfo> info384 = InspectCsrPem(CsrPem(p384.get()));
  ASSERT_TRUE(info384.ok()) << info384.status().ToString();
  EXPECT_EQ(info384->key_type, "EC P-384");
  EXPECT_EQ(info384->key_bits, 384);
  EXPECT_NE(info384->public_key_sha256_hex, info->public_key_sha256_hex);

  PkeyPtr rsa = RsaKey(2048);
  Result<CsrInfo> info_rsa = InspectCsrPem(CsrPem(rsa.get()));
  ASSERT_TRUE(info_rsa.ok()) << info_rsa.status().ToString();
  EXPECT_EQ(info_rsa->key_type, "RSA");
  EXPECT_EQ(info_rsa->key_bits, 2048);

  // A CSR without a subject is fine (the server names the device).
  ReqPtr bare(X509_REQ_new());
  ASSERT_EQ(X509_REQ_set_pubkey(bare.get(), p256.get()), 1);
  ASSERT_GT(X509_REQ_sign(bare.get(), p256.get(), EVP_sha256()), 0);
  Result<CsrInfo> no_cn = InspectCsrPem(CsrPem(bare.get()));
  ASSERT_TRUE(no_cn.ok()) << no_cn.status().ToString();
  EXPECT_EQ(no_cn->subject_common_name, "");
}

TEST_F(DeviceCertTest, IssuesClientCertificateFromP256Csr) {
  PkeyPtr key = EcKey("P-256");
  // The CSR claims another name and asks for CA powers: none of it may reach the certificate.
  IssuedDeviceCertificate issued = Issue(CsrPem(key.get(), "admin", /*hostile_extensions=*/true));
  ASSERT_FALSE(issued.certificate_pem.empty());
  EXPECT_EQ(issued.ca_chain_pem, ca_->certificate_pem());
  EXPECT_EQ(issued.csr.key_type, "EC P-256");
  EXPECT_EQ(issued.csr.subject_common_name, "admin");
  EXPECT_EQ(issued.not_before, clock_.Now() - hours(1));
  EXPECT_EQ(issued.not_after, clock_.Now() + hours(24 * 90));

  Result<CertificateInfo> info = InspectCertificatePem(issued.certificate_pem);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->subject, "CN=device-17");
  EXPECT_EQ(info->issuer, ca_->info().subject);
  EXPECT_EQ(info->serial_hex, issued.serial_hex);
  EXPECT_THAT(issued.serial_hex, MatchesRegex("[0-9A-F]+"));
  EXPECT_LE(issued.serial_hex.size(), 32u);
  EXPECT_GE(issued.serial_hex.size(), 16u);
  EXPECT_TRUE(info->dns_names.empty());
  EXPECT_TRUE(info->ip_addresses.empty());
  EXPECT_FALSE(info->is_ca);

  X509Ptr cert = test::ParseFirstCertificate(issued.certificate_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()), 1);
  // Serial: positive.
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr);
  ASSERT_NE(serial, nullptr);
  EXPECT_FALSE(BN_is_negative(serial));
  EXPECT_LE(BN_num_bits(serial), 128);
  BN_free(serial);

  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(bc->ca, 0);
  EXPECT_EQ(crit, 1);
  BASIC_CONSTRAINTS_free(bc);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_ext_by_NID(cert.get(), NID_subject_alt_name, -1), -1);
  ASSERT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  X509Ptr ca_cert = test::ParseFirstCertificate(ca_->certificate_pem());
  ASSERT_NE(X509_get0_authority_key_id(cert.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert.get()),
                                  X509_get0_subject_key_id(ca_cert.get())),
            0);

  // It verifies against the CA for client use, and not for server use.
  VerifyOutcome verified =
      VerifyClientCertificate(issued.certificate_pem, ca_->certificate_pem(), clock_.Now());
  EXPECT_TRUE(verified.ok) << X509_verify_cert_error_string(verified.error);
  EXPECT_EQ(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_SERVER, 0), 0);
  // Nor after it expires.
  VerifyOutcome late = VerifyClientCertificate(issued.certificate_pem, ca_->certificate_pem(),
                                               clock_.Now() + hours(24 * 91));
  EXPECT_FALSE(late.ok);
  EXPECT_EQ(late.error, X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST_F(DeviceCertTest, IssuesClientCertificateFromRsa2048Csr) {
  PkeyPtr key = RsaKey(2048);
  IssuedDeviceCertificate issued = Issue(CsrPem(key.get()), "device-18");
  ASSERT_FALSE(issued.certificate_pem.empty());
  EXPECT_EQ(issued.csr.key_type, "RSA");
  EXPECT_EQ(issued.csr.key_bits, 2048);
  X509Ptr cert = test::ParseFirstCertificate(issued.certificate_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()), 1);
  EXPECT_EQ(X509_get_key_usage(cert.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  Result<CertificateInfo> info = InspectCertificatePem(issued.certificate_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->subject, "CN=device-18");
  VerifyOutcome verified =
      VerifyClientCertificate(issued.certificate_pem, ca_->certificate_pem(), clock_.Now());
  EXPECT_TRUE(verified.ok) << X509_verify_cert_error_string(verified.error);
}

TEST_F(DeviceCertTest, SerialsAreUniqueAndIdentifyPeerCertificateAgrees) {
  PkeyPtr key = EcKey("P-256");
  const std::string csr = CsrPem(key.get());
  std::set<std::string> serials;
  for (int i = 0; i < 32; ++i) {
    IssuedDeviceCertificate issued = Issue(csr);
    ASSERT_FALSE(issued.serial_hex.empty());
    serials.insert(issued.serial_hex);

    X509Ptr cert = test::ParseFirstCertificate(issued.certificate_pem);
    ASSERT_TRUE(cert);
    Result<PeerCertificateId> id = IdentifyPeerCertificate(cert.get());
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_EQ(id->serial_hex, issued.serial_hex);
    EXPECT_EQ(id->serial_hex, test::SerialOf(issued.certificate_pem));
    EXPECT_EQ(id->not_after, issued.not_after);
  }
  EXPECT_EQ(serials.size(), 32u);

  Result<PeerCertificateId> none = IdentifyPeerCertificate(nullptr);
  EXPECT_FALSE(none.ok());
}

TEST_F(DeviceCertTest, ValidityEndsWithTheCa) {
  facegate::testing::TempDir dir;
  std::unique_ptr<LocalCa> short_ca = OpenCa(dir / "pki", clock_, hours(24 * 30));
  ASSERT_TRUE(short_ca);
  PkeyPtr key = EcKey("P-256");
  DeviceCertificateRequest request = DeviceRequest(CsrPem(key.get()));
  request.validity = hours(24 * 397);
  Result<IssuedDeviceCertificate> issued = short_ca->IssueDeviceCertificate(request);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  EXPECT_EQ(issued->not_after, short_ca->info().not_after);

  clock_.Advance(hours(24 * 31));
  Result<IssuedDeviceCertificate> after = short_ca->IssueDeviceCertificate(request);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(after.status().message(), HasSubstr("expired"));
}

TEST_F(DeviceCertTest, RefusesWeakOrUnsupportedKeysNamingTheKeyType) {
  PkeyPtr rsa1024 = RsaKey(1024);
  Status s = Refusal(CsrPem(rsa1024.get()));
  EXPECT_THAT(s.message(), HasSubstr("key type is not allowed: RSA 1024 bits"));

  PkeyPtr ed25519 = Ed25519Key();
  ASSERT_TRUE(ed25519);
  s = Refusal(CsrPem(ed25519.get()));
  EXPECT_THAT(s.message(), HasSubstr("key type is not allowed: ED25519"));

  PkeyPtr k1 = EcKey("secp256k1");
  ASSERT_TRUE(k1);
  s = Refusal(CsrPem(k1.get()));
  EXPECT_THAT(s.message(), HasSubstr("key type is not allowed: EC secp256k1"));

  PkeyPtr p521 = EcKey("P-521");
  ASSERT_TRUE(p521);
  s = Refusal(CsrPem(p521.get()));
  EXPECT_THAT(s.message(), HasSubstr("key type is not allowed: EC secp521r1"));
  EXPECT_THAT(s.message(), HasSubstr("allowed: EC P-256, EC P-384, RSA"));
}

TEST_F(DeviceCertTest, RefusesTamperedSignatureAndGarbage) {
  PkeyPtr p256 = EcKey("P-256");
  Status s = Refusal(TamperedCsrPem(p256.get()));
  EXPECT_THAT(s.message(), HasSubstr("signature does not verify"));

  PkeyPtr rsa = RsaKey(2048);
  s = Refusal(TamperedCsrPem(rsa.get()));
  EXPECT_THAT(s.message(), HasSubstr("signature does not verify"));

  for (const std::string& garbage :
       {std::string(), std::string("hello"), std::string(5000, 'A'),
        std::string(
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
        CsrPem(p256.get()).substr(0, 200),  // truncated
        ca_->certificate_pem()}) {          // a certificate is not a CSR
    SCOPED_TRACE(garbage.substr(0, 40));
    s = Refusal(garbage);
    EXPECT_THAT(s.message(), HasSubstr("not a PEM certificate signing request"));
  }
  s = Refusal(std::string(100 * 1024, 'A'));
  EXPECT_THAT(s.message(), HasSubstr("larger than"));
}

TEST_F(DeviceCertTest, RefusesBadIdentityOrValidity) {
  PkeyPtr key = EcKey("P-256");
  const std::string csr = CsrPem(key.get());
  for (const std::string& identity :
       {std::string(), std::string("device 17"), std::string("CN=x,O=y"), std::string(65, 'd'),
        std::string("d\xc3\xa9vice")}) {
    Result<IssuedDeviceCertificate> r = ca_->IssueDeviceCertificate(DeviceRequest(csr, identity));
    ASSERT_FALSE(r.ok()) << identity;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("device identity"));
  }
  DeviceCertificateRequest zero = DeviceRequest(csr);
  zero.validity = hours(0);
  Result<IssuedDeviceCertificate> r = ca_->IssueDeviceCertificate(zero);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(DeviceCertTest, CertificateFromAnotherCaDoesNotVerify) {
  facegate::testing::TempDir other_dir;
  std::unique_ptr<LocalCa> other = OpenCa(other_dir / "pki", clock_);
  ASSERT_TRUE(other);
  PkeyPtr key = EcKey("P-256");
  Result<IssuedDeviceCertificate> foreign =
      other->IssueDeviceCertificate(DeviceRequest(CsrPem(key.get())));
  ASSERT_TRUE(foreign.ok()) << foreign.status().ToString();
  VerifyOutcome v =
      VerifyClientCertificate(foreign->certificate_pem, ca_->certificate_pem(), clock_.Now());
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

// ---------------------------------------------------------------------------------------------
// mTLS on loopback: the server requires a client certificate from the CA.

class DeviceCertMtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Real time: both TLS peers check validity against the machine's clock.
    ca_ = OpenCa(dir_ / "pki", SystemClock::Instance());
    other_ca_ = OpenCa(dir_ / "other-pki", SystemClock::Instance());
    ASSERT_TRUE(ca_ && other_ca_);
    ServerCertificateRequest server_request;
    server_request.common_name = "facegate-test";
    server_request.ip_addresses = {"127.0.0.1"};
    Result<CertificateAndKey> server_pair = ca_->IssueServerCertificate(server_request);
    ASSERT_TRUE(server_pair.ok()) << server_pair.status().ToString();

    TlsServerConfig config = test::ServerConfig(*server_pair);
    config.client_certificates = ClientCertificateMode::kRequired;
    config.client_ca_pem = ca_->certificate_pem();
    auto ctx = test::MakeContextOrFail(config);
    ASSERT_TRUE(ctx);
    server_ = std::make_unique<test::TestServer>(test::TestListenerOptions(), std::move(ctx));
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  // GET /whoami with `cert_pem` and `key`: the serial the server saw, or why it did not answer.
  // In TLS 1.3 a refused client certificate may only show on the first read.
  Result<std::string> WhoAmI(const std::string& cert_pem, EVP_PKEY* key, int max_version = 0) {
    facegate::testing::TlsClientOptions o;
    o.ca_pem = ca_->certificate_pem();
    o.client_cert_pem = cert_pem;
    o.client_key_pem = PrivateKeyPem(key);
    o.max_version = max_version;
    auto client = server_->Connect(o);
    if (!client.ok()) return client.status();
    Result<facegate::testing::HttpReply> reply = (*client)->Request("GET", "/whoami");
    if (!reply.ok()) return reply.status();
    if (reply->status != 200) return Status::Internal("status " + std::to_string(reply->status));
    return reply->body;
  }

  double HandshakeFailures() const {
    return server_->Metric("facegate_tls_handshake_failures_total", "listener=\"device\"");
  }

  facegate::testing::TempDir dir_;
  std::unique_ptr<LocalCa> ca_;
  std::unique_ptr<LocalCa> other_ca_;
  std::unique_ptr<test::TestServer> server_;
};

TEST_F(DeviceCertMtlsTest, IssuedCertificateIsAcceptedAndIdentifiedBySerial) {
  PkeyPtr p256 = EcKey("P-256");
  PkeyPtr rsa = RsaKey(2048);
  for (EVP_PKEY* key : {p256.get(), rsa.get()}) {
    Result<IssuedDeviceCertificate> issued =
        ca_->IssueDeviceCertificate(DeviceRequest(CsrPem(key)));
    ASSERT_TRUE(issued.ok()) << issued.status().ToString();
    for (int max_version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
      SCOPED_TRACE(issued->csr.key_type +
                   (max_version == TLS1_3_VERSION ? " TLS 1.3" : " TLS 1.2"));
      Result<std::string> who = WhoAmI(issued->certificate_pem, key, max_version);
      ASSERT_TRUE(who.ok()) << who.status().ToString();
      EXPECT_EQ(*who, issued->serial_hex);  // what the HTTP layer looks the device up by
    }
  }
  EXPECT_EQ(HandshakeFailures(), 0);
}

TEST_F(DeviceCertMtlsTest, CertificateFromAnotherCaFailsTheHandshake) {
  PkeyPtr key = EcKey("P-256");
  Result<IssuedDeviceCertificate> foreign =
      other_ca_->IssueDeviceCertificate(DeviceRequest(CsrPem(key.get())));
  ASSERT_TRUE(foreign.ok()) << foreign.status().ToString();

  // TLS 1.2: the client's handshake itself fails.
  Result<std::string> who12 = WhoAmI(foreign->certificate_pem, key.get(), TLS1_2_VERSION);
  EXPECT_FALSE(who12.ok()) << "the server answered " << *who12;
  EXPECT_TRUE(test::Eventually([&] { return HandshakeFailures() == 1; }))
      << "handshake failures: " << HandshakeFailures();
  // TLS 1.3: refused before any request is read.
  Result<std::string> who13 = WhoAmI(foreign->certificate_pem, key.get());
  EXPECT_FALSE(who13.ok()) << "the server answered " << *who13;
  EXPECT_TRUE(test::Eventually([&] { return HandshakeFailures() == 2; }))
      << "handshake failures: " << HandshakeFailures();

  // A certificate from our CA still gets through on the same server.
  Result<IssuedDeviceCertificate> ours =
      ca_->IssueDeviceCertificate(DeviceRequest(CsrPem(key.get())));
  ASSERT_TRUE(ours.ok());
  Result<std::string> who = WhoAmI(ours->certificate_pem, key.get());
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(*who, ours->serial_hex);
}

}  // namespace
}  // namespace facegate::net
