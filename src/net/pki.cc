#include "facegate/net/pki.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "facegate/core/files.h"

namespace facegate::net {
namespace {

// ---------------------------------------------------------------------------------------------
// RAII for every OpenSSL object this file touches.

template <auto FreeFn>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslDeleter<GENERAL_NAME_free>>;
using OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING_free>>;
using Ia5StringPtr = std::unique_ptr<ASN1_IA5STRING, OpenSslDeleter<ASN1_IA5STRING_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>>;

// OPENSSL_free is a macro (it records file and line), so it cannot be a template argument.
struct OpenSslStringFree {
  void operator()(char* p) const { OPENSSL_free(p); }
};
using OpenSslStringPtr = std::unique_ptr<char, OpenSslStringFree>;

// ---------------------------------------------------------------------------------------------
// Errors.

// Drains OpenSSL's (thread-local) error queue into one line.
std::string DrainOpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

Status OpenSslFailure(StatusCode code, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += DrainOpenSslErrors();
  return Status(code, std::move(m));
}

Status InternalOpenSslFailure(std::string_view what) {
  return OpenSslFailure(StatusCode::kInternal, what);
}

// ---------------------------------------------------------------------------------------------
// Constants and small helpers.

constexpr char kCaCertFile[] = "ca.crt";
constexpr char kCaKeyFile[] = "ca.key";
constexpr char kCaCommonNamePrefix[] = "Facegate Local CA ";
constexpr char kOrganization[] = "Facegate";
constexpr mode_t kDirMode = 0700;
constexpr mode_t kKeyMode = 0600;
constexpr mode_t kCertMode = 0644;
// notBefore is set this far in the past so a terminal whose clock is a little behind the
// server's still accepts a certificate issued a moment ago.
constexpr std::chrono::seconds kClockSkewAllowance = std::chrono::hours(1);
// RFC 5280 ub-common-name.
constexpr size_t kMaxCommonNameLength = 64;

std::time_t ToTimeT(Clock::WallTime t) {
  return static_cast<std::time_t>(
      std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
}

// Never prompts on the terminal for a passphrase (OpenSSL's default callback would): an
// encrypted key simply fails to load.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

BioPtr MemoryBioFrom(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

Result<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || (len > 0 && data == nullptr)) return InternalOpenSslFailure("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(len));
}

// The first certificate in `pem`, or nullptr (with OpenSSL's error queue filled).
X509Ptr ParseFirstCertificate(std::string_view pem) {
  if (pem.size() > static_cast<size_t>(INT32_MAX)) return nullptr;
  BioPtr bio = MemoryBioFrom(pem);
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
}

PkeyPtr ParsePrivateKey(std::string_view pem) {
  if (pem.size() > static_cast<size_t>(INT32_MAX)) return nullptr;
  BioPtr bio = MemoryBioFrom(pem);
  if (!bio) return nullptr;
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
}

Result<std::string> CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return InternalOpenSslFailure("cannot encode a certificate as PEM");
  }
  return BioContents(bio.get());
}

// PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted: the file mode protects it.
Result<std::string> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return InternalOpenSslFailure("cannot encode a private key as PKCS#8 PEM");
  }
  return BioContents(bio.get());
}

Result<PkeyPtr> GenerateP256Key() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1) {
    return InternalOpenSslFailure("cannot set up P-256 key generation");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return InternalOpenSslFailure("cannot generate a P-256 key");
  }
  return PkeyPtr(raw);
}

Result<std::string> RandomHex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
    return InternalOpenSslFailure("RAND_bytes");
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char b : buf) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  return out;
}

// A random positive 128-bit serial (RFC 5280 allows up to 20 octets; CAB forum asks for
// at least 64 bits of randomness).
Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  do {
    if (RAND_bytes(bytes, sizeof bytes) != 1) return InternalOpenSslFailure("RAND_bytes");
    bytes[0] &= 0x7f;  // positive even where the top bit is read as a sign
  } while (std::all_of(std::begin(bytes), std::end(bytes), [](unsigned char b) { return b == 0; }));
  BignumPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return InternalOpenSslFailure("cannot set the certificate serial number");
  }
  return Status::Ok();
}

// Names are added most general first (O, then CN), so the RFC 2253 text reads "CN=...,O=...".
Status SetName(X509_NAME* name, const std::string& common_name, const char* organization) {
  if (organization != nullptr &&
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(organization), -1, -1,
                                 0) != 1) {
    return InternalOpenSslFailure("cannot set the organization name");
  }
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return OpenSslFailure(StatusCode::kInvalidArgument,
                          "cannot use \"" + common_name + "\" as a common name");
  }
  return Status::Ok();
}

Status SetValidity(X509* cert, std::time_t not_before, std::time_t not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(cert), not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), not_after) == nullptr) {
    return InternalOpenSslFailure("cannot set the certificate validity");
  }
  return Status::Ok();
}

// Adds an extension written in openssl.cnf syntax ("critical,CA:TRUE"); `issuer` and
// `subject` are what subjectKeyIdentifier and authorityKeyIdentifier are computed from.
Status AddExtension(X509* issuer, X509* subject, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(subject, ext.get(), -1) != 1) {
    return InternalOpenSslFailure(std::string("cannot add the ") + OBJ_nid2sn(nid) +
                                  " extension \"" + value + "\"");
  }
  return Status::Ok();
}

// "10.0.0.5" -> 4 bytes, "::1" -> 16 bytes; nullopt when it is neither.
std::optional<std::string> ParseIpAddress(const std::string& text) {
  unsigned char buf[sizeof(in6_addr)];
  if (::inet_pton(AF_INET, text.c_str(), buf) == 1) {
    return std::string(reinterpret_cast<const char*>(buf), sizeof(in_addr));
  }
  if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return std::string(reinterpret_cast<const char*>(buf), sizeof(in6_addr));
  }
  return std::nullopt;
}

Result<std::vector<std::string>> ParseIpAddresses(const std::vector<std::string>& texts) {
  std::vector<std::string> out;
  for (const std::string& text : texts) {
    std::optional<std::string> bytes = ParseIpAddress(text);
    if (!bytes) {
      return Status::InvalidArgument("\"" + text + "\" is not an IPv4 or IPv6 address");
    }
    if (std::find(out.begin(), out.end(), *bytes) == out.end()) out.push_back(std::move(*bytes));
  }
  return out;
}

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Host names as they may appear in a dNSName: letters, digits, '-', '_', '.', and a leading
// "*." wildcard label.
bool IsValidDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  std::string_view rest = name;
  if (rest.size() > 2 && rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  return std::all_of(rest.begin(), rest.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

Result<std::vector<std::string>> NormalizeDnsNames(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    if (!IsValidDnsName(name)) return Status::InvalidArgument("\"" + name + "\" is not a DNS name");
    std::string lower = Lowercase(name);
    if (std::find(out.begin(), out.end(), lower) == out.end()) out.push_back(std::move(lower));
  }
  return out;
}

Status CheckRequest(const ServerCertificateRequest& request) {
  if (request.common_name.empty() || request.common_name.size() > kMaxCommonNameLength) {
    return Status::InvalidArgument("the common name must have 1 to " +
                                   std::to_string(kMaxCommonNameLength) + " characters, not \"" +
                                   request.common_name + "\"");
  }
  if (request.validity <= std::chrono::hours(0)) {
    return Status::InvalidArgument("a certificate's validity must be positive");
  }
  return Status::Ok();
}

Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& ip_bytes,
                          const std::vector<std::string>& dns_names) {
  if (ip_bytes.empty() && dns_names.empty()) return Status::Ok();  // an empty SAN is invalid
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return InternalOpenSslFailure("GENERAL_NAMES_new");
  for (const std::string& ip : ip_bytes) {
    OctetStringPtr octets(ASN1_OCTET_STRING_new());
    if (!octets ||
        ASN1_OCTET_STRING_set(octets.get(), reinterpret_cast<const unsigned char*>(ip.data()),
                              static_cast<int>(ip.size())) != 1) {
      return InternalOpenSslFailure("cannot encode an IP address");
    }
    GeneralNamePtr gn(GENERAL_NAME_new());
    if (!gn) return InternalOpenSslFailure("GENERAL_NAME_new");
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, octets.release());
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) {
      return InternalOpenSslFailure("sk_GENERAL_NAME_push");
    }
    gn.release();  // owned by `names` now
  }
  for (const std::string& dns : dns_names) {
    Ia5StringPtr ia5(ASN1_IA5STRING_new());
    if (!ia5 || ASN1_STRING_set(ia5.get(), dns.data(), static_cast<int>(dns.size())) != 1) {
      return InternalOpenSslFailure("cannot encode a DNS name");
    }
    GeneralNamePtr gn(GENERAL_NAME_new());
    if (!gn) return InternalOpenSslFailure("GENERAL_NAME_new");
    GENERAL_NAME_set0_value(gn.get(), GEN_DNS, ia5.release());
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) {
      return InternalOpenSslFailure("sk_GENERAL_NAME_push");
    }
    gn.release();
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return InternalOpenSslFailure("cannot add the subjectAltName extension");
  }
  return Status::Ok();
}

// Subject alternative names of `cert`: IPs as raw bytes, DNS names as text.
void ReadSubjectAltNames(const X509* cert, std::vector<std::string>* ip_bytes,
                         std::vector<std::string>* dns_names) {
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      ip_bytes->emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                             static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      dns_names->emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                              static_cast<size_t>(ASN1_STRING_length(s)));
    }
  }
}

std::string IpBytesToText(const std::string& bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  int family = bytes.size() == sizeof(in_addr)    ? AF_INET
               : bytes.size() == sizeof(in6_addr) ? AF_INET6
                                                  : AF_UNSPEC;
  if (family == AF_UNSPEC || ::inet_ntop(family, bytes.data(), buf, sizeof buf) == nullptr) {
    return "<invalid IP address of " + std::to_string(bytes.size()) + " bytes>";
  }
  return buf;
}

Result<std::string> NameToText(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // RFC 2253 order ("CN=...,O=..."), but UTF-8 left as UTF-8 instead of \XX escapes.
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    return InternalOpenSslFailure("cannot print a distinguished name");
  }
  return BioContents(bio.get());
}

Result<Clock::WallTime> Asn1TimeToWallTime(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return OpenSslFailure(StatusCode::kInvalidArgument, "cannot read a certificate time");
  }
  std::time_t seconds = ::timegm(&tm);
  return Clock::WallTime(std::chrono::seconds(seconds));
}

// The CA checks X509_check_ca makes, minus the legacy cases (v1 roots, Netscape cert types):
// basicConstraints CA:TRUE and, when keyUsage is present, keyCertSign.
bool IsCa(X509* cert) { return X509_check_ca(cert) == 1; }

// Upper-case hex without separators or leading "0x" (BN_bn2hex's format: whole bytes).
Result<std::string> SerialHexOf(const X509* cert) {
  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!serial) return InternalOpenSslFailure("cannot read the serial number");
  OpenSslStringPtr hex(BN_bn2hex(serial.get()));
  if (!hex) return InternalOpenSslFailure("cannot print the serial number");
  return std::string(hex.get());
}

Result<CertificateInfo> Inspect(X509* cert) {
  CertificateInfo info;
  Result<std::string> subject = NameToText(X509_get_subject_name(cert));
  if (!subject.ok()) return subject.status();
  info.subject = std::move(*subject);
  Result<std::string> issuer = NameToText(X509_get_issuer_name(cert));
  if (!issuer.ok()) return issuer.status();
  info.issuer = std::move(*issuer);

  Result<std::string> serial = SerialHexOf(cert);
  if (!serial.ok()) return serial.status();
  info.serial_hex = std::move(*serial);

  std::vector<std::string> ip_bytes;
  ReadSubjectAltNames(cert, &ip_bytes, &info.dns_names);
  for (const std::string& ip : ip_bytes) info.ip_addresses.push_back(IpBytesToText(ip));

  Result<Clock::WallTime> not_before = Asn1TimeToWallTime(X509_get0_notBefore(cert));
  if (!not_before.ok()) return not_before.status();
  info.not_before = *not_before;
  Result<Clock::WallTime> not_after = Asn1TimeToWallTime(X509_get0_notAfter(cert));
  if (!not_after.ok()) return not_after.status();
  info.not_after = *not_after;

  info.is_ca = IsCa(cert);

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1) {
    return InternalOpenSslFailure("cannot compute the certificate fingerprint");
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned int i = 0; i < md_len; ++i) {
    if (i > 0) info.sha256_fingerprint_hex += ':';
    info.sha256_fingerprint_hex += kHex[md[i] >> 4];
    info.sha256_fingerprint_hex += kHex[md[i] & 0x0f];
  }
  return info;
}

// Reads a file that may legitimately be missing: nullopt when it does not exist.
Result<std::optional<std::string>> ReadOptionalFile(const std::filesystem::path& path) {
  Result<std::string> data = ReadFile(path);
  if (data.ok()) return std::optional<std::string>(std::move(*data));
  if (data.status().code() == StatusCode::kNotFound) return std::optional<std::string>();
  return data.status();
}

// ---------------------------------------------------------------------------------------------
// Certificate signing requests (device certificates).

// A CSR is a few hundred bytes (a few KiB for RSA 8192); anything far larger is not one.
constexpr size_t kMaxCsrBytes = 64 * 1024;
// RSA below 2048 bits is breakable in practice; above 8192 only costs handshake time.
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr char kAllowedKeys[] = "allowed: EC P-256, EC P-384, RSA 2048 to 8192 bits";

std::string ColonHex(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ':';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0x0f];
  }
  return out;
}

// Names the key and checks it is one a device certificate may carry. Fills key_type and
// key_bits of `info`.
Status CheckDeviceKey(EVP_PKEY* key, CsrInfo* info) {
  const int bits = EVP_PKEY_get_bits(key);
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[80] = {};
    size_t group_len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &group_len) != 1) {
      // Explicit curve parameters: a known attack surface, and no terminal needs them.
      return Status::InvalidArgument(
          "the CSR's key type is not allowed: EC with explicit curve parameters (" +
          std::string(kAllowedKeys) + ")");
    }
    int nid = OBJ_txt2nid(group);
    if (nid == NID_undef) nid = EC_curve_nist2nid(group);
    if (nid == NID_X9_62_prime256v1) {
      info->key_type = "EC P-256";
    } else if (nid == NID_secp384r1) {
      info->key_type = "EC P-384";
    } else {
      return Status::InvalidArgument("the CSR's key type is not allowed: EC " + std::string(group) +
                                     " (" + kAllowedKeys + ")");
    }
    info->key_bits = bits;
    return Status::Ok();
  }
  // EVP_PKEY_is_a(key, "RSA") is false for RSA-PSS keys, which are refused below by name.
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
      return Status::InvalidArgument("the CSR's key type is not allowed: RSA " +
                                     std::to_string(bits) + " bits (" + kAllowedKeys + ")");
    }
    info->key_type = "RSA";
    info->key_bits = bits;
    return Status::Ok();
  }
  const char* name = EVP_PKEY_get0_type_name(key);
  if (name == nullptr) name = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
  return Status::InvalidArgument(
      "the CSR's key type is not allowed: " + std::string(name != nullptr ? name : "unknown") +
      " (" + kAllowedKeys + ")");
}

// The subject's first commonName as UTF-8, or "".
std::string CommonNameOf(const X509_NAME* name) {
  if (name == nullptr) return {};
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

struct CheckedCsr {
  X509ReqPtr request;
  PkeyPtr key;
  CsrInfo info;
};

// Parses `pem`, checks the key (first: a terminal with the wrong key type learns that rather
// than a signature detail) and then the self-signature, which proves the requester holds the
// private key.
Result<CheckedCsr> ParseAndCheckCsr(std::string_view pem) {
  if (pem.size() > kMaxCsrBytes) {
    return Status::InvalidArgument("not a PEM certificate signing request: larger than " +
                                   std::to_string(kMaxCsrBytes) + " bytes");
  }
  CheckedCsr out;
  BioPtr bio = MemoryBioFrom(pem);
  if (!bio) return InternalOpenSslFailure("BIO_new_mem_buf");
  out.request.reset(PEM_read_bio_X509_REQ(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!out.request) {
    return OpenSslFailure(StatusCode::kInvalidArgument,
                          "not a PEM certificate signing request (or a damaged one)");
  }
  out.key.reset(X509_REQ_get_pubkey(out.request.get()));
  if (!out.key) {
    return OpenSslFailure(StatusCode::kInvalidArgument,
                          "the certificate signing request has an unreadable public key");
  }
  FACEGATE_RETURN_IF_ERROR(CheckDeviceKey(out.key.get(), &out.info));
  if (X509_REQ_verify(out.request.get(), out.key.get()) != 1) {
    return OpenSslFailure(StatusCode::kInvalidArgument,
                          "the certificate signing request's signature does not verify");
  }
  out.info.subject_common_name = CommonNameOf(X509_REQ_get_subject_name(out.request.get()));

  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(out.key.get(), &der);
  if (der_len <= 0) return InternalOpenSslFailure("cannot encode the CSR's public key");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  const bool hashed =
      EVP_Digest(der, static_cast<size_t>(der_len), md, &md_len, EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!hashed) return InternalOpenSslFailure("cannot hash the CSR's public key");
  out.info.public_key_sha256_hex = ColonHex(md, md_len);
  return out;
}

// The CN of a device certificate: what the HTTP layer and the logs name the terminal by.
// Restricted to a plain character set so it never needs escaping anywhere.
Status CheckDeviceIdentity(const std::string& identity) {
  if (identity.empty() || identity.size() > kMaxCommonNameLength) {
    return Status::InvalidArgument("the device identity must be 1 to " +
                                   std::to_string(kMaxCommonNameLength) + " characters");
  }
  const bool plain = std::all_of(identity.begin(), identity.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
  if (!plain) {
    return Status::InvalidArgument("the device identity \"" + identity +
                                   "\" may contain only letters, digits, '-', '_' and '.'");
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct LocalCa::Impl {
  X509Ptr cert;
  PkeyPtr key;
  const Clock* clock = nullptr;  // the caller's; outlives the LocalCa
};

LocalCa::LocalCa(std::unique_ptr<Impl> impl, std::string pem, CertificateInfo info)
    : impl_(std::move(impl)), ca_cert_pem_(std::move(pem)), info_(std::move(info)) {}

LocalCa::~LocalCa() = default;

Result<CertificateInfo> InspectCertificatePem(const std::string& pem) {
  ERR_clear_error();
  X509Ptr cert = ParseFirstCertificate(pem);
  if (!cert) {
    return OpenSslFailure(StatusCode::kInvalidArgument, "not a PEM certificate");
  }
  return Inspect(cert.get());
}

Result<CsrInfo> InspectCsrPem(const std::string& pem) {
  ERR_clear_error();
  Result<CheckedCsr> csr = ParseAndCheckCsr(pem);
  ERR_clear_error();  // a refused CSR leaves decoder errors behind
  if (!csr.ok()) return csr.status();
  return std::move(csr->info);
}

Result<PeerCertificateId> IdentifyPeerCertificate(const X509* cert) {
  if (cert == nullptr) return Status::InvalidArgument("no peer certificate");
  ERR_clear_error();
  PeerCertificateId out;
  Result<std::string> serial = SerialHexOf(cert);
  if (!serial.ok()) return serial.status();
  out.serial_hex = std::move(*serial);
  Result<Clock::WallTime> not_after = Asn1TimeToWallTime(X509_get0_notAfter(cert));
  if (!not_after.ok()) return not_after.status();
  out.not_after = *not_after;
  return out;
}

namespace {

struct CaObjects {
  X509Ptr cert;
  PkeyPtr key;
};

Result<CaObjects> CreateCa(const Clock& clock, std::chrono::hours validity) {
  Result<PkeyPtr> key = GenerateP256Key();
  if (!key.ok()) return key.status();
  X509Ptr cert(X509_new());
  if (!cert) return InternalOpenSslFailure("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return InternalOpenSslFailure("X509_set_version");
  }
  FACEGATE_RETURN_IF_ERROR(SetRandomSerial(cert.get()));

  // A random suffix tells the CAs of different sites apart in a terminal's trust list.
  Result<std::string> suffix = RandomHex(3);
  if (!suffix.ok()) return suffix.status();
  FACEGATE_RETURN_IF_ERROR(
      SetName(X509_get_subject_name(cert.get()), kCaCommonNamePrefix + *suffix, kOrganization));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    return InternalOpenSslFailure("X509_set_issuer_name");
  }

  const std::time_t now = ToTimeT(clock.Now());
  FACEGATE_RETURN_IF_ERROR(
      SetValidity(cert.get(), now - kClockSkewAllowance.count(),
                  now + std::chrono::duration_cast<std::chrono::seconds>(validity).count()));

  if (X509_set_pubkey(cert.get(), key->get()) != 1) {
    return InternalOpenSslFailure("X509_set_pubkey");
  }
  // subjectKeyIdentifier first: the (self-)authorityKeyIdentifier copies it.
  FACEGATE_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  FACEGATE_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  FACEGATE_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  FACEGATE_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_authority_key_identifier, "keyid:always"));

  if (X509_sign(cert.get(), key->get(), EVP_sha256()) <= 0) {
    return InternalOpenSslFailure("cannot sign the CA certificate");
  }
  return CaObjects{std::move(cert), std::move(*key)};
}

}  // namespace

Result<std::unique_ptr<LocalCa>> LocalCa::OpenOrCreate(const std::filesystem::path& dir,
                                                       const Clock& clock,
                                                       std::chrono::hours validity) {
  ERR_clear_error();
  const std::filesystem::path cert_path = dir / kCaCertFile;
  const std::filesystem::path key_path = dir / kCaKeyFile;

  Result<std::optional<std::string>> cert_file = ReadOptionalFile(cert_path);
  if (!cert_file.ok()) return cert_file.status();
  Result<std::optional<std::string>> key_file = ReadOptionalFile(key_path);
  if (!key_file.ok()) return key_file.status();

  if (!cert_file->has_value() && !key_file->has_value()) {
    if (validity <= std::chrono::hours(0)) {
      return Status::InvalidArgument("the CA validity must be positive");
    }
    Result<CaObjects> created = CreateCa(clock, validity);
    if (!created.ok()) return created.status();
    auto impl = std::make_unique<Impl>();
    impl->cert = std::move(created->cert);
    impl->key = std::move(created->key);
    impl->clock = &clock;
    Result<std::string> cert_pem = CertificateToPem(impl->cert.get());
    if (!cert_pem.ok()) return cert_pem.status();
    Result<std::string> key_pem = PrivateKeyToPem(impl->key.get());
    if (!key_pem.ok()) return key_pem.status();
    Result<CertificateInfo> info = Inspect(impl->cert.get());
    if (!info.ok()) return info.status();

    FACEGATE_RETURN_IF_ERROR(EnsureDirectory(dir, kDirMode));
    // The key first: a crash before the certificate is written leaves a state the next start
    // reports, rather than a certificate whose key is lost.
    FACEGATE_RETURN_IF_ERROR(WriteFileAtomically(key_path, *key_pem, kKeyMode));
    Status written = WriteFileAtomically(cert_path, *cert_pem, kCertMode);
    if (!written.ok()) {
      std::error_code ec;
      std::filesystem::remove(key_path, ec);  // best effort: do not leave a key without a cert
      return written;
    }
    return std::unique_ptr<LocalCa>(
        new LocalCa(std::move(impl), std::move(*cert_pem), std::move(*info)));
  }

  if (!cert_file->has_value() || !key_file->has_value()) {
    const std::filesystem::path& missing = cert_file->has_value() ? key_path : cert_path;
    const std::filesystem::path& present = cert_file->has_value() ? cert_path : key_path;
    return Status::FailedPrecondition(
        missing.string() + " is missing but " + present.string() +
        " exists; restore it from a backup, or remove " + present.string() +
        " to create a new CA (every terminal must then trust the new CA)");
  }

  const std::string& cert_pem = **cert_file;
  auto impl = std::make_unique<Impl>();
  impl->cert = ParseFirstCertificate(cert_pem);
  if (!impl->cert) {
    return OpenSslFailure(StatusCode::kCorruption,
                          "cannot parse " + cert_path.string() + " as a PEM certificate");
  }
  impl->key = ParsePrivateKey(**key_file);
  if (!impl->key) {
    return OpenSslFailure(StatusCode::kCorruption, "cannot parse " + key_path.string() +
                                                       " as an unencrypted PEM private key");
  }
  if (X509_check_private_key(impl->cert.get(), impl->key.get()) != 1) {
    return OpenSslFailure(StatusCode::kFailedPrecondition,
                          key_path.string() + " is not the private key of " + cert_path.string());
  }
  if (!IsCa(impl->cert.get())) {
    return Status::FailedPrecondition(cert_path.string() +
                                      " is not a CA certificate (basicConstraints CA:TRUE)");
  }
  // A self-issued CA must carry its own valid signature (one issued by another CA is
  // accepted as it is: its issuer is not ours to check).
  if (X509_NAME_cmp(X509_get_subject_name(impl->cert.get()),
                    X509_get_issuer_name(impl->cert.get())) == 0 &&
      X509_verify(impl->cert.get(), impl->key.get()) != 1) {
    return OpenSslFailure(StatusCode::kCorruption,
                          "the self-signature of " + cert_path.string() + " does not verify");
  }
  Result<CertificateInfo> info = Inspect(impl->cert.get());
  if (!info.ok()) return info.status().WithContext(cert_path.string());
  impl->clock = &clock;
  ERR_clear_error();  // the decoders may queue errors for formats they tried and rejected
  return std::unique_ptr<LocalCa>(new LocalCa(std::move(impl), cert_pem, std::move(*info)));
}

Result<CertificateAndKey> LocalCa::IssueServerCertificate(
    const ServerCertificateRequest& request) const {
  return IssueAt(request, impl_->clock->Now());
}

Result<CertificateAndKey> LocalCa::IssueAt(const ServerCertificateRequest& request,
                                           Clock::WallTime now_time) const {
  ERR_clear_error();
  FACEGATE_RETURN_IF_ERROR(CheckRequest(request));
  Result<std::vector<std::string>> ip_bytes = ParseIpAddresses(request.ip_addresses);
  if (!ip_bytes.ok()) return ip_bytes.status();
  Result<std::vector<std::string>> dns_names = NormalizeDnsNames(request.dns_names);
  if (!dns_names.ok()) return dns_names.status();

  X509* ca_cert = impl_->cert.get();
  Result<PkeyPtr> key = GenerateP256Key();
  if (!key.ok()) return key.status();
  X509Ptr cert(X509_new());
  if (!cert) return InternalOpenSslFailure("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return InternalOpenSslFailure("X509_set_version");
  }
  FACEGATE_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  FACEGATE_RETURN_IF_ERROR(SetName(X509_get_subject_name(cert.get()), request.common_name,
                                   /*organization=*/nullptr));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert)) != 1) {
    return InternalOpenSslFailure("X509_set_issuer_name");
  }

  // A certificate is of no use after its issuer expires: end it with the CA at the latest.
  const std::time_t now = ToTimeT(now_time);
  const std::time_t not_after =
      std::min(now + std::chrono::duration_cast<std::chrono::seconds>(request.validity).count(),
               ToTimeT(info_.not_after));
  FACEGATE_RETURN_IF_ERROR(SetValidity(cert.get(), now - kClockSkewAllowance.count(), not_after));

  if (X509_set_pubkey(cert.get(), key->get()) != 1) {
    return InternalOpenSslFailure("X509_set_pubkey");
  }
  FACEGATE_RETURN_IF_ERROR(
      AddExtension(ca_cert, cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  FACEGATE_RETURN_IF_ERROR(
      AddExtension(ca_cert, cert.get(), NID_key_usage, "critical,digitalSignature"));
  FACEGATE_RETURN_IF_ERROR(AddExtension(ca_cert, cert.get(), NID_ext_key_usage, "serverAuth"));
  FACEGATE_RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), *ip_bytes, *dns_names));
  FACEGATE_RETURN_IF_ERROR(AddExtension(ca_cert, cert.get(), NID_subject_key_identifier, "hash"));
  FACEGATE_RETURN_IF_ERROR(
      AddExtension(ca_cert, cert.get(), NID_authority_key_identifier, "keyid:always"));

  if (X509_sign(cert.get(), impl_->key.get(), EVP_sha256()) <= 0) {
    return InternalOpenSslFailure("cannot sign the server certificate");
  }

  Result<std::string> leaf_pem = CertificateToPem(cert.get());
  if (!leaf_pem.ok()) return leaf_pem.status();
  Result<std::string> key_pem = PrivateKeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  CertificateAndKey out;
  out.certificate_pem = std::move(*leaf_pem);
  // The chain a TLS server sends: the leaf, then its issuer.
  out.certificate_pem += ca_cert_pem_;
  out.private_key_pem = std::move(*key_pem);
  return out;
}

Result<IssuedDeviceCertificate> LocalCa::IssueDeviceCertificate(
    const DeviceCertificateRequest& request) const {
  ERR_clear_error();
  FACEGATE_RETURN_IF_ERROR(CheckDeviceIdentity(request.device_identity));
  if (request.validity <= std::chrono::hours(0)) {
    return Status::InvalidArgument("the device certificate validity must be positive");
  }
  Result<CheckedCsr> csr = ParseAndCheckCsr(request.csr_pem);
  if (!csr.ok()) {
    ERR_clear_error();
    return csr.status();
  }

  const std::time_t now = ToTimeT(impl_->clock->Now());
  // A certificate is of no use after its issuer expires: end it with the CA at the latest.
  const std::time_t ca_not_after = ToTimeT(info_.not_after);
  if (ca_not_after <= now) {
    return Status::FailedPrecondition(
        "the local CA has expired; no device certificate can be issued from it");
  }
  const std::time_t not_after =
      std::min(now + std::chrono::duration_cast<std::chrono::seconds>(request.validity).count(),
               ca_not_after);

  X509* ca_cert = impl_->cert.get();
  X509Ptr cert(X509_new());
  if (!cert) return InternalOpenSslFailure("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return InternalOpenSslFailure("X509_set_version");
  }
  FACEGATE_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  // Only the name the server chose: the CSR's subject is the terminal's claim, not a fact.
  FACEGATE_RETURN_IF_ERROR(SetName(X509_get_subject_name(cert.get()), request.device_identity,
                                   /*organization=*/nullptr));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert)) != 1) {
    return InternalOpenSslFailure("X509_set_issuer_name");
  }
  FACEGATE_RETURN_IF_ERROR(SetValidity(cert.get(), now - kClockSkewAllowance.count(), not_after));
  if (X509_set_pubkey(cert.get(), csr->key.get()) != 1) {
    return InternalOpenSslFailure("X509_set_pubkey");
  }
  // The CSR's requested extensions are ignored on purpose: a terminal must not be able to ask
  // for CA:TRUE, serverAuth or names of its choosing.
  const bool rsa = csr->info.key_type == "RSA";
  FACEGATE_RETURN_IF_ERROR(
      AddExtension(ca_cert, cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  // keyEncipherment: TLS 1.2 RSA key transport is not offered by our ciphers, but some
  // client stacks refuse an RSA certificate without it.
  FACEGATE_RETURN_IF_ERROR(AddExtension(
      ca_cert, cert.get(), NID_key_usage,
      rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"));
  FACEGATE_RETURN_IF_ERROR(AddExtension(ca_cert, cert.get(), NID_ext_key_usage, "clientAuth"));
  FACEGATE_RETURN_IF_ERROR(AddExtension(ca_cert, cert.get(), NID_subject_key_identifier, "hash"));
  FACEGATE_RETURN_IF_ERROR(
      AddExtension(ca_cert, cert.get(), NID_authority_key_identifier, "keyid:always"));

  if (X509_sign(cert.get(), impl_->key.get(), EVP_sha256()) <= 0) {
    return InternalOpenSslFailure("cannot sign the device certificate");
  }

  Result<std::string> pem = CertificateToPem(cert.get());
  if (!pem.ok()) return pem.status();
  Result<CertificateInfo> info = Inspect(cert.get());
  if (!info.ok()) return info.status();
  IssuedDeviceCertificate out;
  out.certificate_pem = std::move(*pem);
  out.ca_chain_pem = ca_cert_pem_;
  out.serial_hex = std::move(info->serial_hex);
  out.not_before = info->not_before;
  out.not_after = info->not_after;
  out.csr = std::move(csr->info);
  return out;
}

namespace {

// Whether the pair in the files can be kept for `request` at `now`.
bool CanReuse(const std::string& cert_pem, const std::string& key_pem, EVP_PKEY* ca_public_key,
              const ServerCertificateRequest& request, const std::vector<std::string>& ip_bytes,
              const std::vector<std::string>& dns_names, Clock::WallTime now,
              std::chrono::hours renew_before) {
  X509Ptr cert = ParseFirstCertificate(cert_pem);
  PkeyPtr key = ParsePrivateKey(key_pem);
  if (!cert || !key) return false;
  if (X509_check_private_key(cert.get(), key.get()) != 1) return false;
  // Signed by this CA's key (a file left from an earlier CA is replaced).
  if (X509_verify(cert.get(), ca_public_key) != 1) return false;

  Result<CertificateInfo> info = Inspect(cert.get());
  if (!info.ok()) return false;
  if (info->subject != "CN=" + request.common_name) return false;
  // A clock stepped back past notBefore would make clients reject the certificate.
  if (now < info->not_before) return false;
  if (!(now + renew_before < info->not_after)) return false;

  std::vector<std::string> have_ips;
  std::vector<std::string> have_dns;
  ReadSubjectAltNames(cert.get(), &have_ips, &have_dns);
  for (std::string& name : have_dns) name = Lowercase(name);
  for (const std::string& ip : ip_bytes) {
    if (std::find(have_ips.begin(), have_ips.end(), ip) == have_ips.end()) return false;
  }
  for (const std::string& name : dns_names) {
    if (std::find(have_dns.begin(), have_dns.end(), name) == have_dns.end()) return false;
  }
  return true;
}

}  // namespace

Result<CertificateAndKey> EnsureServerCertificate(
    const LocalCa& ca, const std::filesystem::path& dir, const std::string& name,
    const ServerCertificateRequest& request, const Clock& clock, std::chrono::hours renew_before) {
  ERR_clear_error();
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return Status::InvalidArgument("\"" + name + "\" is not a plain file name");
  }
  FACEGATE_RETURN_IF_ERROR(CheckRequest(request));
  // Checked before the files are looked at, so a bad request never replaces a good pair.
  Result<std::vector<std::string>> ip_bytes = ParseIpAddresses(request.ip_addresses);
  if (!ip_bytes.ok()) return ip_bytes.status();
  Result<std::vector<std::string>> dns_names = NormalizeDnsNames(request.dns_names);
  if (!dns_names.ok()) return dns_names.status();

  const std::filesystem::path cert_path = dir / (name + ".crt");
  const std::filesystem::path key_path = dir / (name + ".key");
  Result<std::optional<std::string>> cert_file = ReadOptionalFile(cert_path);
  if (!cert_file.ok()) return cert_file.status();
  Result<std::optional<std::string>> key_file = ReadOptionalFile(key_path);
  if (!key_file.ok()) return key_file.status();

  const Clock::WallTime now = clock.Now();
  if (cert_file->has_value() && key_file->has_value()) {
    EVP_PKEY* ca_public_key = X509_get0_pubkey(ca.impl_->cert.get());
    if (ca_public_key == nullptr) return InternalOpenSslFailure("the CA has no public key");
    if (CanReuse(**cert_file, **key_file, ca_public_key, request, *ip_bytes, *dns_names, now,
                 renew_before)) {
      ERR_clear_error();  // failed decoder attempts may have queued errors
      return CertificateAndKey{std::move(**cert_file), std::move(**key_file)};
    }
    ERR_clear_error();
  }

  Result<CertificateAndKey> issued = ca.IssueAt(request, now);
  if (!issued.ok()) return issued.status();
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    FACEGATE_RETURN_IF_ERROR(EnsureDirectory(dir, kDirMode));
  }
  // The key first: should the certificate write fail, the next call finds a key that does not
  // match the old certificate and issues again.
  FACEGATE_RETURN_IF_ERROR(WriteFileAtomically(key_path, issued->private_key_pem, kKeyMode));
  FACEGATE_RETURN_IF_ERROR(WriteFileAtomically(cert_path, issued->certificate_pem, kCertMode));
  return issued;
}

namespace {

EVP_PKEY* GenerateClientKey(ClientKeyType type) {
  switch (type) {
    case ClientKeyType::kEcP256:
      return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    case ClientKeyType::kEcP384:
      return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
    case ClientKeyType::kRsa1024:
      return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024});
    case ClientKeyType::kRsa2048:
      return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    case ClientKeyType::kEd25519:
      return EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  }
  return nullptr;
}

std::string MemoryBioText(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

Result<KeyAndCsr> MakeKeyAndCsr(ClientKeyType type, const std::string& common_name) {
  ERR_clear_error();
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(GenerateClientKey(type), &EVP_PKEY_free);
  if (!key) return Status::Internal("key generation failed: " + DrainOpenSslErrors());
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(X509_REQ_new(), &X509_REQ_free);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    return Status::Internal("building the CSR failed: " + DrainOpenSslErrors());
  }
  const EVP_MD* md = type == ClientKeyType::kEd25519 ? nullptr : EVP_sha256();
  if (X509_REQ_sign(req.get(), key.get(), md) <= 0) {
    return Status::Internal("signing the CSR failed: " + DrainOpenSslErrors());
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> csr_bio(BIO_new(BIO_s_mem()), &BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (PEM_write_bio_X509_REQ(csr_bio.get(), req.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return Status::Internal("writing PEM failed: " + DrainOpenSslErrors());
  }
  return KeyAndCsr{MemoryBioText(key_bio.get()), MemoryBioText(csr_bio.get())};
}

}  // namespace facegate::net
