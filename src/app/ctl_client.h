// ApiClient: facegatectl's HTTPS client for facegated's admin API (docs/admin-api.md).
//
// One keep-alive TLS connection per client, opened at the first request and opened again
// (once) when the server closed it while idle. TLS 1.2 or newer; the server's certificate is
// verified against ONLY the CA file given (the daemon's local CA, <data_dir>/pki/ca.crt: CA
// pinning, the system's trust store is never used) and must name the URL's host (DNS name or
// IP address). Every connect, read and write has a deadline (30 s; 120 s for uploads).
// Failures to reach the daemon are kUnavailable (connect, TLS) or kDeadlineExceeded
// (timeouts) with a message naming the URL; an HTTP error answer is not a failure of Request
// but an ApiResponse whose status says it (ErrorText / ErrorStatus read its body).
//
// Where the URL, the token and the CA come from (ResolveClientOptions), first found wins:
// --url/--token/--token-file/--ca, then FACEGATE_URL/FACEGATE_TOKEN/FACEGATE_TOKEN_FILE/
// FACEGATE_CA, then the client file ($FACEGATE_CTL_CONFIG, else
// ${XDG_CONFIG_HOME:-~/.config}/facegate/facegatectl.json: {"url","token_file","ca"}), then
// the daemon's configuration file (--config): its admin listener and <data_dir>/pki/ca.crt.
// The token is never printed nor put in a message.
//
// Thread-safety: an ApiClient is used by one thread at a time; use one per thread (each has
// its own connection). The free functions are thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ctl_common.h"
#include "facegate/core/status.h"

namespace facegate::app::ctl {

struct ClientOptions {
  std::string url;    // https://host[:port][/prefix]; host may be an IP literal ([::1])
  std::string token;  // the bearer token (never printed)
  std::filesystem::path ca_file;
  std::chrono::milliseconds timeout{30000};          // connect, each read, each write
  std::chrono::milliseconds upload_timeout{120000};  // PostMultipart
};

// The help lines of --url, --token, --token-file and --ca, to splice into a command's help.
#define FACEGATE_CTL_CLIENT_OPTIONS_HELP                                                    \
  "  --url URL         the admin API (default: FACEGATE_URL, the client file, else the\n"   \
  "                    admin listener of the --config file, https://127.0.0.1:8444)\n"      \
  "  --token TOKEN     the bearer token (prefer --token-file or FACEGATE_TOKEN_FILE: a\n"   \
  "                    command line is visible to other users)\n"                           \
  "  --token-file FILE a file holding the token (default: FACEGATE_TOKEN,\n"                \
  "                    FACEGATE_TOKEN_FILE, the client file's token_file)\n"                \
  "  --ca FILE         the CA that signs the server's certificate (default: FACEGATE_CA,\n" \
  "                    the client file, else <data_dir>/pki/ca.crt of the --config file)\n" \
  "  --config FILE     facegated configuration file, for the defaults above (default\n"     \
  "                    /etc/facegate/facegate.json)\n"

// ParseArgs for a command that talks to the API: --url, --token, --token-file and --ca are
// accepted besides `flags` and `valued` (and --config, --json, --help); their values land in
// out->values like the others'. Returns kOk, kHelpShown or kUsage.
int ParseApiArgs(int argc, char** argv, std::string_view prog, const char* help,
                 std::initializer_list<std::string_view> flags,
                 std::initializer_list<std::string_view> valued, Args* out);

// Finds the URL, the token and the CA for `args` (see above). kInvalidArgument (a usage error:
// exit kUsage) when one is missing, naming the option or variable to set.
Result<ClientOptions> ResolveClientOptions(const Args& args);

struct ApiResponse {
  int status = 0;
  std::string content_type;  // the media type only, lower case ("application/json")
  std::string body;
  nlohmann::json json;     // the body parsed when it is JSON, else null
  int retry_after_s = -1;  // the Retry-After header in seconds, -1 when absent

  bool ok() const { return status >= 200 && status < 300; }
};

// One part of a multipart/form-data body.
struct MultipartPart {
  std::string name;
  std::string filename;      // empty: no filename parameter
  std::string content_type;  // empty: none
  std::string data;
};

class ApiClient {
 public:
  // Checks the options and loads the CA; connects at the first request.
  static Result<std::unique_ptr<ApiClient>> Create(ClientOptions options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // One request: `method` GET, POST, PATCH, PUT, DELETE; `path_and_query` starts with '/'
  // (the URL's path prefix is put in front). An HTTP error status is a response, not a
  // failure; a failure means no answer (cannot connect, TLS, timeout, a broken answer).
  Result<ApiResponse> Request(std::string_view method, std::string_view path_and_query,
                              std::string_view body = {}, std::string_view content_type = {});

  Result<ApiResponse> GetJson(std::string_view path) { return Request("GET", path); }
  Result<ApiResponse> PostJson(std::string_view path, const nlohmann::json& body);
  Result<ApiResponse> PatchJson(std::string_view path, const nlohmann::json& body);
  Result<ApiResponse> PutJson(std::string_view path, const nlohmann::json& body);
  Result<ApiResponse> Delete(std::string_view path) { return Request("DELETE", path); }
  // multipart/form-data, with the upload timeout and Expect: 100-continue (a body the server
  // refuses, 413 for one, is not sent at all).
  Result<ApiResponse> PostMultipart(std::string_view path, const std::vector<MultipartPart>& parts);

  // A GET whose successful (2xx) body goes to `sink` piece by piece as it arrives (exports:
  // no size limit, never held in memory whole); the returned response then has an empty
  // body. Other answers are read whole as by Request. Each read has the timeout, not the
  // whole download. A sink error stops the download and is returned; a connection cut before
  // the end of the body is a failure (kUnavailable), never a short success.
  using BodySink = std::function<Status(std::string_view piece)>;
  Result<ApiResponse> Download(std::string_view path_and_query, const BodySink& sink);

  const std::string& url() const;  // scheme, host and port: "https://127.0.0.1:8444"

 private:
  struct Impl;
  explicit ApiClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// An error answer ({"error","message","fields"}) as one line: "400 invalid_request:
// external_id: required" (the fields when there are some, else the message).
std::string ErrorText(const ApiResponse& response);
// The same as a Status (401 kUnauthenticated, 403 kPermissionDenied, 404 kNotFound, 409
// kAlreadyExists, 400/413/415/422 kInvalidArgument, 503 kResourceExhausted, else kInternal).
Status ErrorStatus(const ApiResponse& response);

// Exit codes: an answer's HTTP status (2xx kOk, 401/403 kDenied, 404 kNotFound, 409 kConflict,
// else kFailure); a Status of Request or ErrorStatus (kUnavailable and kDeadlineExceeded
// kUnreachable, kUnauthenticated and kPermissionDenied kDenied, kNotFound, kAlreadyExists
// kConflict, else kFailure). A failed ResolveClientOptions is a usage error (UsageError).
int ExitCodeForHttpStatus(int http_status);
int ExitCodeFor(const Status& status);

// Prints "<prog>: <ErrorText>" to stderr and returns the exit code for the answer.
int FailResponse(std::string_view prog, const ApiResponse& response);
// Prints "<prog>: <message>" to stderr and returns ExitCodeFor(status).
int FailRequest(std::string_view prog, const Status& status);

}  // namespace facegate::app::ctl
