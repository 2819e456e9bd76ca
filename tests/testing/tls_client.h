// A blocking TLS client for tests: raw OpenSSL on a socket with timeouts, so tests can speak
// exactly the bytes they want (old protocol versions, huge headers, nothing at all) and
// read plain HTTP/1.1 answers. Not thread-safe; one per connection.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "facegate/core/status.h"

namespace facegate::testing {

struct TlsClientOptions {
  std::string ca_pem;  // verify the server against this; empty: no verification
  std::string client_cert_pem;
  std::string client_key_pem;
  int min_version = 0;      // e.g. TLS1_VERSION; 0 leaves OpenSSL's default
  int max_version = 0;      // e.g. TLS1_1_VERSION
  std::string cipher_list;  // e.g. "DEFAULT:@SECLEVEL=0" to allow old versions at all
  std::string server_name;  // SNI and host name check; empty: none
  std::chrono::milliseconds timeout{5000};
};

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool keep_alive = true;
};

class TlsClient {
 public:
  // Connects to host:port and completes the handshake, or says why not.
  static Result<std::unique_ptr<TlsClient>> Connect(const std::string& host, uint16_t port,
                                                    const TlsClientOptions& options);
  ~TlsClient();

  std::string protocol_version() const;  // "TLSv1.3"
  std::string peer_certificate_pem() const;

  Status Write(const std::string& bytes);
  // Reads one HTTP/1.1 response (Content-Length or chunked).
  Result<HttpReply> ReadResponse();
  // Writes a request with Host, Content-Length and the given headers, then reads the answer.
  Result<HttpReply> Request(const std::string& method, const std::string& target,
                            const std::string& body = "",
                            const std::map<std::string, std::string>& headers = {});
  // Reads raw bytes until at least `at_least` have arrived (they stay buffered for
  // ReadResponse too): for tests that stop reading part-way through an answer.
  Result<std::string> ReadAtLeast(size_t at_least);
  // True when the server closed the connection (EOF or reset) within the timeout.
  bool WaitForClose(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit TlsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Connects over plain TCP and returns the socket (tests that never start TLS); -1 on error.
int ConnectTcp(const std::string& host, uint16_t port);

}  // namespace facegate::testing
