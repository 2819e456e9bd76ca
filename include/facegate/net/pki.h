// Local certificate authority: the daemon's own CA and the certificates it issues.
//
// On first start the daemon creates an ECDSA P-256 CA in <data_dir>/pki and issues each
// listener's server certificate from it, with the server's IP addresses and DNS names as
// subject alternative names, so that terminals can pin the CA (they know the server by IP).
// Private keys are written with mode 0600 via a temporary file, fsync and rename.
// Device certificates (clientAuth) are issued from terminals' CSRs at commissioning and renewal.
// Thread-safety: LocalCa is immutable after Open/Create; Issue* may be called concurrently. The
// free functions are thread-safe.
#pragma once

#include <openssl/types.h>  // X509, for IdentifyPeerCertificate

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "facegate/core/clock.h"
#include "facegate/core/status.h"

namespace facegate::net {

// PEM text of a certificate (chain) and its private key.
struct CertificateAndKey {
  std::string certificate_pem;
  std::string private_key_pem;
};

struct ServerCertificateRequest {
  std::string common_name = "facegate";
  std::vector<std::string> ip_addresses;  // "127.0.0.1", "10.0.0.5", "::1"
  std::vector<std::string> dns_names;
  std::chrono::hours validity = std::chrono::hours(24 * 397);
};

// What a certificate says, for checks and for logs (never contains key material).
struct CertificateInfo {
  std::string subject;  // "CN=facegate"
  std::string issuer;
  std::string serial_hex;  // upper-case hex, no separators
  std::vector<std::string> ip_addresses;
  std::vector<std::string> dns_names;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  bool is_ca = false;                  // basicConstraints CA:TRUE (X509_check_ca() == 1)
  std::string sha256_fingerprint_hex;  // of the DER, upper-case hex with ':' separators
};

Result<CertificateInfo> InspectCertificatePem(const std::string& pem);

// What a terminal's certificate signing request (PKCS#10) says, once its self-signature has
// been checked. Only the public key is ever used: the CSR's subject and extensions are
// reported (subject_common_name, for logs) but never copied into a certificate.
struct CsrInfo {
  std::string key_type;             // "EC P-256", "EC P-384" or "RSA"
  int key_bits = 0;                 // 256, 384, 2048, 3072, ...
  std::string subject_common_name;  // "" when the CSR has none
  // SHA-256 of the DER SubjectPublicKeyInfo, upper-case hex with ':' separators (so a renewal
  // can tell a new key from a reused one).
  std::string public_key_sha256_hex;
};

// Parses a PEM CSR ("BEGIN CERTIFICATE REQUEST"), checks its self-signature and its key.
// Allowed keys: EC P-256 or P-384, RSA of 2048 to 8192 bits. Refusals are InvalidArgument
// with a message saying which: not a PEM CSR (or damaged), bad signature, key type or size
// not allowed (naming the key type, e.g. "RSA 1024 bits", "ED25519", "EC secp256k1").
Result<CsrInfo> InspectCsrPem(const std::string& pem);

// A device certificate to issue from a terminal's CSR.
struct DeviceCertificateRequest {
  std::string csr_pem;
  // The subject CN, chosen by the server (e.g. "device-17"), never taken from the CSR:
  // 1 to 64 characters of [A-Za-z0-9._-].
  std::string device_identity;
  std::chrono::hours validity = std::chrono::hours(24 * 397);
};

struct IssuedDeviceCertificate {
  std::string certificate_pem;  // the device certificate alone
  std::string ca_chain_pem;     // the CA certificate(s) above it: what the terminal trusts
  std::string serial_hex;       // as CertificateInfo::serial_hex
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  CsrInfo csr;  // the key the certificate was issued for
};

// The serial number and expiry of a certificate the TLS layer already holds (the verified
// client certificate of a session, SSL_get0_peer_certificate), for looking the device up.
struct PeerCertificateId {
  std::string serial_hex;  // same format as CertificateInfo::serial_hex
  std::chrono::system_clock::time_point not_after;
};
Result<PeerCertificateId> IdentifyPeerCertificate(const X509* cert);

// The terminal's side of commissioning: a fresh key pair and a CSR for it (subject
// CN=`common_name`, self-signed with SHA-256; Ed25519 signs without a digest), both PEM (the key
// as PKCS#8). For the device simulator and the tests; the server allows only the EC curves and
// RSA 2048+ (InspectCsrPem), the other types exist to be refused.
enum class ClientKeyType { kEcP256, kEcP384, kRsa1024, kRsa2048, kEd25519 };
struct KeyAndCsr {
  std::string private_key_pem;
  std::string csr_pem;
};
Result<KeyAndCsr> MakeKeyAndCsr(ClientKeyType type, const std::string& common_name);

class LocalCa {
 public:
  // Loads the CA from `dir` (ca.crt, ca.key), creating it when neither file exists. One
  // file without the other, unreadable files, a key that does not match the certificate or a
  // certificate that is not a CA is an error naming the file. `clock` dates the certificates
  // this CA issues and must outlive it.
  static Result<std::unique_ptr<LocalCa>> OpenOrCreate(const std::filesystem::path& dir,
                                                       const Clock& clock,
                                                       std::chrono::hours validity);

  // Issues a fresh key pair and a server certificate (serverAuth) signed by this CA.
  Result<CertificateAndKey> IssueServerCertificate(const ServerCertificateRequest& request) const;

  // Signs the public key of a terminal's CSR (checked as InspectCsrPem does) into a client
  // certificate: subject CN = request.device_identity, a random 128-bit serial, validity from
  // now (minus the clock-skew allowance) for request.validity but not past the CA's own end,
  // basicConstraints CA:FALSE (critical), keyUsage digitalSignature (+ keyEncipherment for
  // RSA), extendedKeyUsage clientAuth only, subject and authority key identifiers.
  Result<IssuedDeviceCertificate> IssueDeviceCertificate(
      const DeviceCertificateRequest& request) const;

  const std::string& certificate_pem() const { return ca_cert_pem_; }
  const CertificateInfo& info() const { return info_; }

  ~LocalCa();

 private:
  friend Result<CertificateAndKey> EnsureServerCertificate(
      const LocalCa& ca, const std::filesystem::path& dir, const std::string& name,
      const ServerCertificateRequest& request, const Clock& clock, std::chrono::hours renew_before);
  struct Impl;
  LocalCa(std::unique_ptr<Impl> impl, std::string pem, CertificateInfo info);
  // IssueServerCertificate with the time of issue given (EnsureServerCertificate's clock).
  Result<CertificateAndKey> IssueAt(const ServerCertificateRequest& request,
                                    Clock::WallTime now) const;
  std::unique_ptr<Impl> impl_;
  std::string ca_cert_pem_;
  CertificateInfo info_;
};

// Makes sure `dir`/<name>.crt and <name>.key hold a certificate from `ca` that covers every
// address and name in `request` and is not within `renew_before` of expiry; issues and writes
// a new pair otherwise. Returns the files' content either way.
Result<CertificateAndKey> EnsureServerCertificate(
    const LocalCa& ca, const std::filesystem::path& dir, const std::string& name,
    const ServerCertificateRequest& request, const Clock& clock, std::chrono::hours renew_before);

}  // namespace facegate::net
