#include "facegate/net/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace facegate::net {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// After reading PEM blocks until the reader fails: OK when it failed only because no further
// block starts (trailing text or the end); otherwise a block was damaged.
Status EndOfPemBlocks(const char* what, int blocks_read) {
  unsigned long e = ERR_peek_last_error();
  if (e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
    ERR_clear_error();
    return Status::Ok();
  }
  return Status::InvalidArgument(std::string(what) + " number " + std::to_string(blocks_read + 1) +
                                 " is damaged: " + OpenSslErrors());
}

}  // namespace

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

namespace {

// Verification callback: an expired leaf (depth 0) passes, every other failure stands. OpenSSL
// goes on checking the rest of the chain after a callback accepts an error.
int AcceptExpiredLeaf(int preverify_ok, X509_STORE_CTX* ctx) {
  if (preverify_ok == 1) return 1;
  return X509_STORE_CTX_get_error(ctx) == X509_V_ERR_CERT_HAS_EXPIRED &&
                 X509_STORE_CTX_get_error_depth(ctx) == 0
             ? 1
             : 0;
}

}  // namespace

Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const TlsServerConfig& config) {
  namespace ssl = boost::asio::ssl;
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  // The minimum is set explicitly rather than trusting the library's security level.
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION) != 1) {
    return Status::Internal("cannot restrict TLS versions: " + OpenSslErrors());
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_ECDH_USE);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return Status::Internal("cannot set the TLS 1.2 cipher list: " + OpenSslErrors());
  }

  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(
      config.certificate_chain_pem.data(), static_cast<int>(config.certificate_chain_pem.size())));
  std::unique_ptr<X509, X509Free> leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!leaf)
    return Status::InvalidArgument("the server certificate is not PEM: " + OpenSslErrors());
  if (SSL_CTX_use_certificate(native, leaf.get()) != 1) {
    return Status::InvalidArgument("the server certificate was refused: " + OpenSslErrors());
  }
  int chain_read = 1;
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(native, extra) != 1) {  // takes ownership on success
      X509_free(extra);
      return Status::InvalidArgument("a chain certificate was refused: " + OpenSslErrors());
    }
    ++chain_read;
  }
  FACEGATE_RETURN_IF_ERROR(EndOfPemBlocks("certificate", chain_read));

  std::unique_ptr<BIO, BioFree> key_bio(BIO_new_mem_buf(
      config.private_key_pem.data(), static_cast<int>(config.private_key_pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Status::InvalidArgument("the private key is not PEM: " + OpenSslErrors());
  if (SSL_CTX_use_PrivateKey(native, key.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
    return Status::InvalidArgument("the private key does not match the certificate: " +
                                   OpenSslErrors());
  }

  if (config.client_certificates != ClientCertificateMode::kNone) {
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    std::unique_ptr<BIO, BioFree> ca_bio(BIO_new_mem_buf(
        config.client_ca_pem.data(), static_cast<int>(config.client_ca_pem.size())));
    int added = 0;
    while (X509* ca = PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr)) {
      int ok = X509_STORE_add_cert(store, ca);
      X509_free(ca);
      if (ok != 1)
        return Status::InvalidArgument("a client CA certificate was refused: " + OpenSslErrors());
      ++added;
    }
    FACEGATE_RETURN_IF_ERROR(EndOfPemBlocks("client CA certificate", added));
    if (added == 0) return Status::InvalidArgument("no client CA certificate given");
    int mode = SSL_VERIFY_PEER;
    if (config.client_certificates == ClientCertificateMode::kRequired) {
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(native, mode,
                       config.accept_expired_client_certificates ? AcceptExpiredLeaf : nullptr);
    SSL_CTX_set_verify_depth(native, 2);
    // Session resumption would skip client verification bookkeeping: keep it per connection.
    static const unsigned char kSessionContext[] = "facegate";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  }
  return ctx;
}

Status TrustOnly(boost::asio::ssl::context& client, const std::string& ca_pem) {
  SSL_CTX* ctx = client.native_handle();
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  int certs = 0;
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store, x) == 1) ++certs;
    X509_free(x);
  }
  BIO_free(bio);
  ERR_clear_error();
  if (certs == 0) return Status::InvalidArgument("holds no PEM certificate");
  X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return Status::Ok();
}

}  // namespace facegate::net
