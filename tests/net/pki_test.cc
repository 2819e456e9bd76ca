#include "facegate/net/pki.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "facegate/core/files.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace facegate::net {
namespace {

using std::chrono::hours;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr hours kCaValidity = hours(24 * 365 * 10);

template <auto FreeFn>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Free<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO_free_all>>;

X509Ptr ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// Every certificate in a PEM bundle, in order.
std::vector<X509Ptr> ParseChain(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<X509Ptr> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the read that ends the loop queues "no start line"
  return out;
}

struct VerifyOutcome {
  bool ok = false;
  int error = X509_V_OK;
};

// Verifies `leaf_pem` (its first certificate) with `ca_pem` as the only trust anchor, at time
// `at`, for TLS server use; `ip` / `host`, when given, must match the certificate.
VerifyOutcome VerifyServerCertificate(const std::string& leaf_pem, const std::string& ca_pem,
                                      Clock::WallTime at, const char* ip = nullptr,
                                      const char* host = nullptr) {
  X509Ptr leaf = ParseCert(leaf_pem);
  X509Ptr ca = ParseCert(ca_pem);
  EXPECT_TRUE(leaf && ca);
  if (!leaf || !ca) return {};
  StorePtr store(X509_STORE_new());
  EXPECT_EQ(X509_STORE_add_cert(store.get(), ca.get()), 1);
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  EXPECT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr), 1);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(at));
  // Strict mode also demands the key identifiers and a critical basicConstraints on the CA.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (ip != nullptr) {
    EXPECT_EQ(X509_VERIFY_PARAM_set1_ip_asc(param, ip), 1);
  }
  if (host != nullptr) {
    EXPECT_EQ(X509_VERIFY_PARAM_set1_host(param, host, 0), 1);
  }
  VerifyOutcome out;
  out.ok = X509_verify_cert(ctx.get()) == 1;
  out.error = X509_STORE_CTX_get_error(ctx.get());
  return out;
}

mode_t ModeOf(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

std::unique_ptr<LocalCa> OpenCa(const std::filesystem::path& dir, const Clock& clock) {
  Result<std::unique_ptr<LocalCa>> ca = LocalCa::OpenOrCreate(dir, clock, kCaValidity);
  EXPECT_TRUE(ca.ok()) << ca.status().ToString();
  return ca.ok() ? std::move(ca).value() : nullptr;
}

ServerCertificateRequest Request() {
  ServerCertificateRequest r;
  r.common_name = "facegate-test";
  r.ip_addresses = {"127.0.0.1", "10.0.0.5", "::1"};
  r.dns_names = {"facegate.local"};
  r.validity = hours(24 * 30);
  return r;
}

// ---------------------------------------------------------------------------------------------

TEST(PkiLocalCaTest, CreatedCaHasExpectedFields) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> ca = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(ca);
  const CertificateInfo& info = ca->info();
  EXPECT_THAT(info.subject, ::testing::MatchesRegex("CN=Facegate Local CA [0-9A-F]{6},O=Facegate"));
  EXPECT_EQ(info.issuer, info.subject);
  EXPECT_TRUE(info.is_ca);
  EXPECT_EQ(info.not_before, clock.Now() - hours(1));
  EXPECT_EQ(info.not_after, clock.Now() + kCaValidity);
  EXPECT_THAT(info.serial_hex, ::testing::MatchesRegex("[0-7]?[0-9A-F]+"));
  EXPECT_LE(info.serial_hex.size(), 32u);
  EXPECT_GE(info.serial_hex.size(), 16u);  // 128 random bits: a short one is vanishingly rare
  EXPECT_THAT(info.sha256_fingerprint_hex,
              ::testing::MatchesRegex("([0-9A-F]{2}:){31}[0-9A-F]{2}"));

  Result<std::string> key = ReadFile(tmp / "pki" / "ca.key");
  ASSERT_TRUE(key.ok());
  EXPECT_THAT(*key, StartsWith("-----BEGIN PRIVATE KEY-----"));  // PKCS#8, unencrypted
  Result<std::string> crt = ReadFile(tmp / "pki" / "ca.crt");
  ASSERT_TRUE(crt.ok());
  EXPECT_EQ(*crt, ca->certificate_pem());

  // ECDSA P-256 signed with SHA-256, X.509 v3 with the CA extensions.
  X509Ptr cert = ParseCert(*crt);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  ASSERT_NE(pub, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(pub, "EC"));
  char group[64] = {};
  size_t group_len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(pub, group, sizeof group, &group_len), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_EQ(X509_get_pathlen(cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  EXPECT_NE(X509_get0_authority_key_id(cert.get()), nullptr);
  int crit = 0;
  void* bc = X509_get_ext_d2i(cert.get(), NID_basic_constraints, &crit, nullptr);
  BASIC_CONSTRAINTS_free(static_cast<BASIC_CONSTRAINTS*>(bc));
  EXPECT_EQ(crit, 1);
}

TEST(PkiLocalCaTest, CreateThenReopenGivesTheSameCa) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> first = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(first);
  clock.Advance(hours(5));
  std::unique_ptr<LocalCa> second = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->info().sha256_fingerprint_hex, first->info().sha256_fingerprint_hex);
  EXPECT_EQ(second->info().serial_hex, first->info().serial_hex);
  EXPECT_EQ(second->certificate_pem(), first->certificate_pem());
}

TEST(PkiLocalCaTest, DifferentSitesGetDistinguishableCas) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> a = OpenCa(tmp / "a", clock);
  std::unique_ptr<LocalCa> b = OpenCa(tmp / "b", clock);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->info().subject, b->info().subject);
  EXPECT_NE(a->info().serial_hex, b->info().serial_hex);
  EXPECT_NE(a->info().sha256_fingerprint_hex, b->info().sha256_fingerprint_hex);
}

TEST(PkiLocalCaTest, FileModes) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  ASSERT_TRUE(OpenCa(tmp / "data" / "pki", clock));
  EXPECT_EQ(ModeOf(tmp / "data" / "pki"), 0700u);
  EXPECT_EQ(ModeOf(tmp / "data" / "pki" / "ca.key"), 0600u);
  EXPECT_EQ(ModeOf(tmp / "data" / "pki" / "ca.crt"), 0644u);
}

TEST(PkiLocalCaTest, MissingKeyWithCertPresentFailsNamingTheKey) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  ASSERT_TRUE(OpenCa(tmp / "pki", clock));
  std::filesystem::remove(tmp / "pki" / "ca.key");
  Result<std::unique_ptr<LocalCa>> ca = LocalCa::OpenOrCreate(tmp / "pki", clock, kCaValidity);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(ca.status().message(), HasSubstr((tmp / "pki" / "ca.key").string() + " is missing"));
  // Nothing was created in its place.
  EXPECT_FALSE(std::filesystem::exists(tmp / "pki" / "ca.key"));
}

TEST(PkiLocalCaTest, MissingCertWithKeyPresentFailsNamingTheCert) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  ASSERT_TRUE(OpenCa(tmp / "pki", clock));
  std::filesystem::remove(tmp / "pki" / "ca.crt");
  Result<std::unique_ptr<LocalCa>> ca = LocalCa::OpenOrCreate(tmp / "pki", clock, kCaValidity);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(ca.status().message(), HasSubstr((tmp / "pki" / "ca.crt").string() + " is missing"));
}

TEST(PkiLocalCaTest, GarbageCertIsCorruptionNamingTheFile) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  ASSERT_TRUE(OpenCa(tmp / "pki", clock));
  ASSERT_TRUE(WriteFileAtomically(tmp / "pki" / "ca.crt", "this is not a certificate\n").ok());
  Result<std::unique_ptr<LocalCa>> ca = LocalCa::OpenOrCreate(tmp / "pki", clock, kCaValidity);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(ca.status().message(), HasSubstr((tmp / "pki" / "ca.crt").string()));
}

TEST(PkiLocalCaTest, GarbageKeyIsCorruptionNamingTheFile) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  ASSERT_TRUE(OpenCa(tmp / "pki", clock));
  ASSERT_TRUE(WriteFileAtomically(tmp / "pki" / "ca.key",
                                  "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                                  0600)
                  .ok());
  Result<std::unique_ptr<LocalCa>> ca = LocalCa::OpenOrCreate(tmp / "pki", clock, kCaValidity);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(ca.status().message(), HasSubstr((tmp / "pki" / "ca.key").string()));
}

TEST(PkiLocalCaTest, KeyOfAnotherCaIsRejected) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  ASSERT_TRUE(OpenCa(tmp / "site1", clock));
  ASSERT_TRUE(OpenCa(tmp / "site2", clock));
  std::filesystem::copy_file(tmp / "site2" / "ca.key", tmp / "site1" / "ca.key",
                             std::filesystem::copy_options::overwrite_existing);
  Result<std::unique_ptr<LocalCa>> ca = LocalCa::OpenOrCreate(tmp / "site1", clock, kCaValidity);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(ca.status().message(), HasSubstr((tmp / "site1" / "ca.key").string()));
}

TEST(PkiLocalCaTest, ServerCertificateInPlaceOfCaIsRejected) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> ca = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(ca);
  Result<CertificateAndKey> leaf = ca->IssueServerCertificate(Request());
  ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
  std::filesystem::create_directories(tmp / "other");
  ASSERT_TRUE(WriteFileAtomically(tmp / "other" / "ca.crt", leaf->certificate_pem).ok());
  ASSERT_TRUE(WriteFileAtomically(tmp / "other" / "ca.key", leaf->private_key_pem, 0600).ok());
  Result<std::unique_ptr<LocalCa>> other = LocalCa::OpenOrCreate(tmp / "other", clock, kCaValidity);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.status().message(), HasSubstr("not a CA"));
}

// ---------------------------------------------------------------------------------------------

TEST(PkiIssueTest, ServerCertificateVerifiesAgainstTheCa) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> ca = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(ca);
  clock.Advance(hours(2));
  Result<CertificateAndKey> issued = ca->IssueServerCertificate(Request());
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();

  VerifyOutcome now = VerifyServerCertificate(issued->certificate_pem, ca->certificate_pem(),
                                              clock.Now(), "10.0.0.5", "facegate.local");
  EXPECT_TRUE(now.ok) << X509_verify_cert_error_string(now.error);
  EXPECT_TRUE(
      VerifyServerCertificate(issued->certificate_pem, ca->certificate_pem(), clock.Now(), "::1")
          .ok);
  // A terminal whose clock is 30 minutes behind accepts it too.
  EXPECT_TRUE(VerifyServerCertificate(issued->certificate_pem, ca->certificate_pem(),
                                      clock.Now() - std::chrono::minutes(30))
                  .ok);

  // The verification is real: wrong address, expired, not yet valid, other CA all fail.
  EXPECT_EQ(VerifyServerCertificate(issued->certificate_pem, ca->certificate_pem(), clock.Now(),
                                    "10.0.0.6")
                .error,
            X509_V_ERR_IP_ADDRESS_MISMATCH);
  EXPECT_EQ(VerifyServerCertificate(issued->certificate_pem, ca->certificate_pem(),
                                    clock.Now() + Request().validity + hours(1))
                .error,
            X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_EQ(VerifyServerCertificate(issued->certificate_pem, ca->certificate_pem(),
                                    clock.Now() - hours(2))
                .error,
            X509_V_ERR_CERT_NOT_YET_VALID);
  std::unique_ptr<LocalCa> other = OpenCa(tmp / "other", clock);
  ASSERT_TRUE(other);
  EXPECT_FALSE(
      VerifyServerCertificate(issued->certificate_pem, other->certificate_pem(), clock.Now()).ok);
}

TEST(PkiIssueTest, ServerCertificateHasRequestedNamesAndServerAuth) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> ca = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(ca);
  ServerCertificateRequest request = Request();
  request.ip_addresses = {"192.168.1.20", "fd00::1:2"};
  request.dns_names = {"door.example", "facegate.local"};
  Result<CertificateAndKey> issued = ca->IssueServerCertificate(request);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();

  Result<CertificateInfo> info = InspectCertificatePem(issued->certificate_pem);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->subject, "CN=facegate-test");
  EXPECT_EQ(info->issuer, ca->info().subject);
  EXPECT_FALSE(info->is_ca);
  EXPECT_THAT(info->ip_addresses, ::testing::UnorderedElementsAre("192.168.1.20", "fd00::1:2"));
  EXPECT_THAT(info->dns_names, ::testing::UnorderedElementsAre("door.example", "facegate.local"));
  EXPECT_EQ(info->not_before, clock.Now() - hours(1));
  EXPECT_EQ(info->not_after, clock.Now() + request.validity);
  EXPECT_NE(info->serial_hex, ca->info().serial_hex);

  X509Ptr leaf = ParseCert(issued->certificate_pem);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(X509_get_version(leaf.get()), X509_VERSION_3);
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_ecdsa_with_SHA256);
  EXPECT_NE(X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER, 0u);
  EXPECT_EQ(X509_get_key_usage(leaf.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_NE(X509_get0_subject_key_id(leaf.get()), nullptr);
  // The authority key identifier points at the CA's subject key identifier.
  X509Ptr ca_cert = ParseCert(ca->certificate_pem());
  ASSERT_TRUE(ca_cert);
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(leaf.get());
  ASSERT_NE(aki, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(ca_cert.get())), 0);
}

TEST(PkiIssueTest, ChainIsLeafThenCaAndKeyMatchesLeaf) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> ca = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(ca);
  Result<CertificateAndKey> issued = ca->IssueServerCertificate(Request());
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  std::vector<X509Ptr> chain = ParseChain(issued->certificate_pem);
  ASSERT_EQ(chain.size(), 2u);
  X509Ptr ca_cert = ParseCert(ca->certificate_pem());
  ASSERT_TRUE(ca_cert);
  EXPECT_EQ(X509_cmp(chain[1].get(), ca_cert.get()), 0);
  EXPECT_EQ(X509_check_issued(chain[1].get(), chain[0].get()), X509_V_OK);

  EXPECT_THAT(issued->private_key_pem, StartsWith("-----BEGIN PRIVATE KEY-----"));
  BioPtr bio(BIO_new_mem_buf(issued->private_key_pem.data(),
                             static_cast<int>(issued->private_key_pem.size())));
  std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(chain[0].get(), key.get()), 1);
  EXPECT_NE(X509_check_private_key(chain[1].get(), key.get()), 1);
  ERR_clear_error();
}

TEST(PkiIssueTest, EachCertificateHasAFreshKeyAndSerial) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> ca = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(ca);
  Result<CertificateAndKey> a = ca->IssueServerCertificate(Request());
  Result<CertificateAndKey> b = ca->IssueServerCertificate(Request());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->private_key_pem, b->private_key_pem);
  EXPECT_NE(InspectCertificatePem(a->certificate_pem)->serial_hex,
            InspectCertificatePem(b->certificate_pem)->serial_hex);
}

TEST(PkiIssueTest, InvalidIpIsInvalidArgument) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> ca = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(ca);
  for (const char* bad : {"10.0.0.256", "not-an-ip", "1.2.3", "::g", "fe80::1%eth0", ""}) {
    ServerCertificateRequest request = Request();
    request.ip_addresses.push_back(bad);
    Result<CertificateAndKey> issued = ca->IssueServerCertificate(request);
    ASSERT_FALSE(issued.ok()) << bad;
    EXPECT_EQ(issued.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(issued.status().message(), HasSubstr(std::string("\"") + bad + "\"")) << bad;
  }
}

TEST(PkiIssueTest, InvalidDnsNameOrCommonNameIsInvalidArgument) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> ca = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(ca);
  ServerCertificateRequest request = Request();
  request.dns_names = {"a,b"};
  EXPECT_EQ(ca->IssueServerCertificate(request).status().code(), StatusCode::kInvalidArgument);
  request = Request();
  request.common_name = "";
  EXPECT_EQ(ca->IssueServerCertificate(request).status().code(), StatusCode::kInvalidArgument);
  request.common_name = std::string(65, 'x');
  EXPECT_EQ(ca->IssueServerCertificate(request).status().code(), StatusCode::kInvalidArgument);
}

TEST(PkiIssueTest, ServerCertificateDoesNotOutliveTheCa) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  Result<std::unique_ptr<LocalCa>> ca = LocalCa::OpenOrCreate(tmp / "pki", clock, hours(24 * 10));
  ASSERT_TRUE(ca.ok());
  Result<CertificateAndKey> issued = (*ca)->IssueServerCertificate(Request());  // 30 days
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(InspectCertificatePem(issued->certificate_pem)->not_after, (*ca)->info().not_after);
}

// ---------------------------------------------------------------------------------------------

TEST(PkiInspectTest, GarbageIsInvalidArgument) {
  for (const std::string bad :
       {"", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}) {
    Result<CertificateInfo> info = InspectCertificatePem(bad);
    ASSERT_FALSE(info.ok()) << bad;
    EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PkiInspectTest, ReadsTheFirstCertificateOfAChain) {
  testing::TempDir tmp;
  testing::FakeClock clock;
  std::unique_ptr<LocalCa> ca = OpenCa(tmp / "pki", clock);
  ASSERT_TRUE(ca);
  Result<CertificateAndKey> issued = ca->IssueServerCertificate(Request());
  ASSERT_TRUE(issued.ok());
  Result<CertificateInfo> chain_info = InspectCertificatePem(issued->certificate_pem);
  ASSERT_TRUE(chain_info.ok());
  EXPECT_EQ(chain_info->subject, "CN=facegate-test");
  Result<CertificateInfo> ca_info = InspectCertificatePem(ca->certificate_pem());
  ASSERT_TRUE(ca_info.ok());
  EXPECT_EQ(ca_info->sha256_fingerprint_hex, ca->info().sha256_fingerprint_hex);
  EXPECT_NE(chain_info->sha256_fingerprint_hex, ca_info->sha256_fingerprint_hex);
}

// ---------------------------------------------------------------------------------------------

class PkiEnsureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = OpenCa(tmp_ / "pki", clock_);
    ASSERT_TRUE(ca_);
  }

  Result<CertificateAndKey> Ensure(const ServerCertificateRequest& request,
                                   const LocalCa* ca = nullptr) {
    return EnsureServerCertificate(ca ? *ca : *ca_, tmp_ / "pki", "https", request, clock_,
                                   kRenewBefore);
  }

  std::string SerialOf(const CertificateAndKey& pair) {
    Result<CertificateInfo> info = InspectCertificatePem(pair.certificate_pem);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? info->serial_hex : "";
  }

  static constexpr hours kRenewBefore = hours(24 * 7);
  testing::TempDir tmp_;
  testing::FakeClock clock_;
  std::unique_ptr<LocalCa> ca_;
};

TEST_F(PkiEnsureTest, WritesBothFilesAndReturnsTheirContent) {
  Result<CertificateAndKey> pair = Ensure(Request());
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_EQ(*ReadFile(tmp_ / "pki" / "https.crt"), pair->certificate_pem);
  EXPECT_EQ(*ReadFile(tmp_ / "pki" / "https.key"), pair->private_key_pem);
  EXPECT_EQ(ModeOf(tmp_ / "pki" / "https.key"), 0600u);
  EXPECT_EQ(ModeOf(tmp_ / "pki" / "https.crt"), 0644u);
  EXPECT_TRUE(VerifyServerCertificate(pair->certificate_pem, ca_->certificate_pem(), clock_.Now(),
                                      "127.0.0.1", "facegate.local")
                  .ok);
}

TEST_F(PkiEnsureTest, ReusesAGoodCertificate) {
  Result<CertificateAndKey> first = Ensure(Request());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  clock_.Advance(hours(24));
  // A request for a subset of the names (in another spelling) is covered too.
  ServerCertificateRequest subset = Request();
  subset.ip_addresses = {"0:0::1"};
  subset.dns_names = {"FACEGATE.local"};
  for (const ServerCertificateRequest& request : {Request(), subset}) {
    Result<CertificateAndKey> again = Ensure(request);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(SerialOf(*again), SerialOf(*first));
    EXPECT_EQ(again->certificate_pem, first->certificate_pem);
    EXPECT_EQ(again->private_key_pem, first->private_key_pem);
  }
  // Also across a reopened CA, as after a restart.
  std::unique_ptr<LocalCa> reopened = OpenCa(tmp_ / "pki", clock_);
  ASSERT_TRUE(reopened);
  Result<CertificateAndKey> after_restart = Ensure(Request(), reopened.get());
  ASSERT_TRUE(after_restart.ok());
  EXPECT_EQ(SerialOf(*after_restart), SerialOf(*first));
}

TEST_F(PkiEnsureTest, ReissuesWhenANewIpIsRequested) {
  Result<CertificateAndKey> first = Ensure(Request());
  ASSERT_TRUE(first.ok());
  ServerCertificateRequest more = Request();
  more.ip_addresses.push_back("10.0.0.99");
  Result<CertificateAndKey> second = Ensure(more);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE(SerialOf(*second), SerialOf(*first));
  EXPECT_NE(second->private_key_pem, first->private_key_pem);
  EXPECT_THAT(InspectCertificatePem(second->certificate_pem)->ip_addresses, Contains("10.0.0.99"));
  EXPECT_EQ(*ReadFile(tmp_ / "pki" / "https.crt"), second->certificate_pem);
  EXPECT_EQ(*ReadFile(tmp_ / "pki" / "https.key"), second->private_key_pem);
}

TEST_F(PkiEnsureTest, ReissuesWhenANewDnsNameIsRequested) {
  Result<CertificateAndKey> first = Ensure(Request());
  ASSERT_TRUE(first.ok());
  ServerCertificateRequest more = Request();
  more.dns_names.push_back("door.example");
  Result<CertificateAndKey> second = Ensure(more);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(SerialOf(*second), SerialOf(*first));
  EXPECT_THAT(InspectCertificatePem(second->certificate_pem)->dns_names, Contains("door.example"));
}

TEST_F(PkiEnsureTest, ReissuesWithinRenewBeforeOfExpiry) {
  ServerCertificateRequest request = Request();  // valid 30 days
  Result<CertificateAndKey> first = Ensure(request);
  ASSERT_TRUE(first.ok());
  const Clock::WallTime not_after = InspectCertificatePem(first->certificate_pem)->not_after;

  // One second before the renewal window opens: kept.
  clock_.Advance(not_after - kRenewBefore - clock_.Now() - std::chrono::seconds(1));
  Result<CertificateAndKey> kept = Ensure(request);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(SerialOf(*kept), SerialOf(*first));

  // Inside the window: renewed, valid from now.
  clock_.Advance(std::chrono::seconds(2));
  Result<CertificateAndKey> renewed = Ensure(request);
  ASSERT_TRUE(renewed.ok());
  EXPECT_NE(SerialOf(*renewed), SerialOf(*first));
  Result<CertificateInfo> info = InspectCertificatePem(renewed->certificate_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->not_after, clock_.Now() + request.validity);
  EXPECT_TRUE(
      VerifyServerCertificate(renewed->certificate_pem, ca_->certificate_pem(), clock_.Now()).ok);
}

TEST_F(PkiEnsureTest, ReissuesWhenIssuedByAnotherCa) {
  std::unique_ptr<LocalCa> other = OpenCa(tmp_ / "other-pki", clock_);
  ASSERT_TRUE(other);
  Result<CertificateAndKey> foreign = Ensure(Request(), other.get());
  ASSERT_TRUE(foreign.ok());
  ASSERT_TRUE(
      VerifyServerCertificate(foreign->certificate_pem, other->certificate_pem(), clock_.Now()).ok);

  Result<CertificateAndKey> ours = Ensure(Request());
  ASSERT_TRUE(ours.ok());
  EXPECT_NE(SerialOf(*ours), SerialOf(*foreign));
  EXPECT_TRUE(
      VerifyServerCertificate(ours->certificate_pem, ca_->certificate_pem(), clock_.Now()).ok);
  EXPECT_FALSE(
      VerifyServerCertificate(ours->certificate_pem, other->certificate_pem(), clock_.Now()).ok);
}

TEST_F(PkiEnsureTest, ReissuesWhenTheKeyDoesNotMatchOrAFileIsDamaged) {
  Result<CertificateAndKey> first = Ensure(Request());
  ASSERT_TRUE(first.ok());
  Result<CertificateAndKey> unrelated = ca_->IssueServerCertificate(Request());
  ASSERT_TRUE(unrelated.ok());
  ASSERT_TRUE(
      WriteFileAtomically(tmp_ / "pki" / "https.key", unrelated->private_key_pem, 0600).ok());
  Result<CertificateAndKey> second = Ensure(Request());
  ASSERT_TRUE(second.ok());
  EXPECT_NE(SerialOf(*second), SerialOf(*first));

  ASSERT_TRUE(WriteFileAtomically(tmp_ / "pki" / "https.crt", "garbage").ok());
  Result<CertificateAndKey> third = Ensure(Request());
  ASSERT_TRUE(third.ok());
  EXPECT_NE(SerialOf(*third), SerialOf(*second));

  std::filesystem::remove(tmp_ / "pki" / "https.key");
  Result<CertificateAndKey> fourth = Ensure(Request());
  ASSERT_TRUE(fourth.ok());
  EXPECT_NE(SerialOf(*fourth), SerialOf(*third));
  EXPECT_EQ(ModeOf(tmp_ / "pki" / "https.key"), 0600u);
}

TEST_F(PkiEnsureTest, InvalidIpLeavesTheFilesAlone) {
  Result<CertificateAndKey> first = Ensure(Request());
  ASSERT_TRUE(first.ok());
  ServerCertificateRequest bad = Request();
  bad.ip_addresses.push_back("300.1.1.1");
  Result<CertificateAndKey> result = Ensure(bad);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*ReadFile(tmp_ / "pki" / "https.crt"), first->certificate_pem);
}

TEST_F(PkiEnsureTest, CreatesTheDirectoryWithMode0700) {
  Result<CertificateAndKey> pair =
      EnsureServerCertificate(*ca_, tmp_ / "certs", "https", Request(), clock_, kRenewBefore);
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_EQ(ModeOf(tmp_ / "certs"), 0700u);
}

}  // namespace
}  // namespace facegate::net
