// Local certificate authority: the daemon's own CA and the certificates it issues.
//
// On first start the daemon creates an ECDSA P-256 CA in <data_dir>/pki and issues each
// listener's server certificate from it, with the server's IP addresses and DNS names as
// subject alternative names, so that terminals can pin the CA (they know the server by IP).
// Private keys are written with mode 0600 via a temporary file, fsync and rename.
// Thread-safety: LocalCa is immutable after Open/Create; Issue* may be called concurrently.
#pragma once

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
