// Parsing of an access request's body: the capture as the body itself (image/jpeg, image/png,
// metadata in X- headers) or as multipart/form-data (parts "image" and "metadata"). Private to
// src/api; a fuzz target feeds it arbitrary bytes.
// Thread-safety: pure functions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "facegate/core/clock.h"

namespace facegate::api {

struct CaptureMetadata {
  std::string request_id;  // "" when the terminal sent none
  std::optional<Clock::WallTime> capture_time;
  std::string claimed_user;  // external user id; "" when none
  std::optional<double> pad_score;
  std::string pad_method;
};

struct CaptureRequest {
  std::string image;  // encoded JPEG or PNG
  CaptureMetadata metadata;
};

// Why a request is refused before any face work: an HTTP status and a stable code.
struct RequestProblem {
  int http_status = 400;
  std::string code;  // bad_request, unsupported_media_type, empty_image
  std::string message;
};

// Header lookup by lower-case name; "" when absent.
using HeaderLookup = std::function<std::string(std::string_view name)>;

// Fills `out` or returns the problem. Takes the body by move (captures are large).
std::optional<RequestProblem> ParseCaptureRequest(std::string_view content_type,
                                                  const HeaderLookup& header, std::string body,
                                                  CaptureRequest* out);

// One part of a multipart/form-data body.
struct FormPart {
  std::string name;          // from Content-Disposition
  std::string content_type;  // "" when the part has none
  std::string_view data;     // points into the body
};

// Splits a multipart/form-data body (RFC 7578) with `boundary`; at most `max_parts` parts.
// Returns the problem when the body is not well formed.
std::optional<std::string> ParseMultipart(std::string_view body, std::string_view boundary,
                                          size_t max_parts, std::vector<FormPart>* parts);

// The value of parameter `name` in a header like `multipart/form-data; boundary="x"`.
std::string HeaderParameter(std::string_view header, std::string_view name);

// request ids: 1-128 characters of [A-Za-z0-9._:-].
bool IsValidRequestId(std::string_view id);

}  // namespace facegate::api
