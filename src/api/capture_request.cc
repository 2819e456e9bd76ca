#include "api/capture_request.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "facegate/core/time_format.h"

namespace facegate::api {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The media type of a Content-Type value, lower-cased, without parameters.
std::string MediaType(std::string_view content_type) {
  return Lower(Trim(content_type.substr(0, content_type.find(';'))));
}

RequestProblem Bad(std::string message) { return {400, "bad_request", std::move(message)}; }

constexpr size_t kMaxClaimedUser = 256;
constexpr size_t kMaxPadMethod = 64;

std::optional<RequestProblem> CheckMetadata(const CaptureMetadata& m) {
  if (!m.request_id.empty() && !IsValidRequestId(m.request_id)) {
    return Bad("request_id must be 1-128 characters of A-Z a-z 0-9 . _ : -");
  }
  if (m.claimed_user.size() > kMaxClaimedUser) return Bad("claimed_user is too long");
  if (m.pad_score && !(std::isfinite(*m.pad_score) && *m.pad_score >= 0 && *m.pad_score <= 1)) {
    return Bad("pad.score must be a number from 0 to 1");
  }
  if (m.pad_method.size() > kMaxPadMethod) return Bad("pad.method is too long");
  return std::nullopt;
}

std::optional<RequestProblem> MetadataFromHeaders(const HeaderLookup& header, CaptureMetadata* m) {
  m->request_id = header("x-request-id");
  if (std::string t = header("x-capture-time"); !t.empty()) {
    m->capture_time = ParseRfc3339(t);
    if (!m->capture_time) return Bad("X-Capture-Time is not an RFC 3339 timestamp");
  }
  m->claimed_user = header("x-claimed-user");
  if (std::string score = header("x-pad-score"); !score.empty()) {
    char* end = nullptr;
    double v = std::strtod(score.c_str(), &end);
    if (end == score.c_str() || *end != '\0') return Bad("X-PAD-Score is not a number");
    m->pad_score = v;
  }
  m->pad_method = header("x-pad-method");
  return std::nullopt;
}

std::optional<RequestProblem> MetadataFromJson(std::string_view text, CaptureMetadata* m) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Bad("the metadata part is not a JSON object");
  auto string_field = [&](const char* key, std::string* out) -> std::optional<RequestProblem> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) return Bad(std::string("metadata.") + key + " must be a string");
    *out = it->get<std::string>();
    return std::nullopt;
  };
  if (auto p = string_field("request_id", &m->request_id)) return p;
  if (auto p = string_field("claimed_user", &m->claimed_user)) return p;
  std::string capture_time;
  if (auto p = string_field("capture_time", &capture_time)) return p;
  if (!capture_time.empty()) {
    m->capture_time = ParseRfc3339(capture_time);
    if (!m->capture_time) return Bad("metadata.capture_time is not an RFC 3339 timestamp");
  }
  if (auto pad = j.find("pad"); pad != j.end() && !pad->is_null()) {
    if (!pad->is_object()) return Bad("metadata.pad must be an object");
    if (auto s = pad->find("score"); s != pad->end() && !s->is_null()) {
      if (!s->is_number()) return Bad("metadata.pad.score must be a number");
      m->pad_score = s->get<double>();
    }
    if (auto me = pad->find("method"); me != pad->end() && !me->is_null()) {
      if (!me->is_string()) return Bad("metadata.pad.method must be a string");
      m->pad_method = me->get<std::string>();
    }
  }
  return std::nullopt;
}

}  // namespace

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
  });
}

std::string HeaderParameter(std::string_view header, std::string_view name) {
  size_t pos = header.find(';');
  while (pos != std::string_view::npos) {
    std::string_view rest = header.substr(pos + 1);
    size_t next = rest.find(';');
    std::string_view param = Trim(rest.substr(0, next));
    size_t eq = param.find('=');
    if (eq != std::string_view::npos && Lower(Trim(param.substr(0, eq))) == Lower(name)) {
      std::string_view value = Trim(param.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
    pos = next == std::string_view::npos ? next : pos + 1 + next;
  }
  return "";
}

std::optional<std::string> ParseMultipart(std::string_view body, std::string_view boundary,
                                          size_t max_parts, std::vector<FormPart>* parts) {
  if (boundary.empty() || boundary.size() > 70)
    return "the multipart boundary is missing or too long";
  const std::string dash = "--" + std::string(boundary);
  const std::string delimiter = "\r\n" + dash;
  // The first boundary may start the body (no preamble) or follow a preamble and CRLF.
  size_t pos;
  if (body.substr(0, dash.size()) == dash) {
    pos = dash.size();
  } else {
    size_t first = body.find(delimiter);
    if (first == std::string_view::npos) return "the multipart body has no boundary";
    pos = first + delimiter.size();
  }
  for (;;) {
    if (body.substr(pos, 2) == "--") return std::nullopt;  // closing delimiter
    // Transport padding, then CRLF.
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") return "a multipart boundary is not followed by CRLF";
    pos += 2;
    if (parts->size() >= max_parts) return "too many multipart parts";
    size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) return "a multipart part has no end of headers";
    FormPart part;
    std::string_view headers = body.substr(pos, headers_end - pos);
    bool has_disposition = false;
    while (!headers.empty()) {
      size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) return "a multipart part header has no colon";
      std::string field = Lower(Trim(line.substr(0, colon)));
      std::string_view value = Trim(line.substr(colon + 1));
      if (field == "content-disposition") {
        if (MediaType(value) != "form-data") return "a part's Content-Disposition is not form-data";
        part.name = HeaderParameter(value, "name");
        has_disposition = true;
      } else if (field == "content-type") {
        part.content_type = MediaType(value);
      }
    }
    if (!has_disposition || part.name.empty()) return "a multipart part has no name";
    size_t data_start = headers_end + 4;
    size_t data_end = body.find(delimiter, data_start);
    if (data_end == std::string_view::npos) return "a multipart part is not terminated";
    part.data = body.substr(data_start, data_end - data_start);
    parts->push_back(std::move(part));
    pos = data_end + delimiter.size();
  }
}

std::optional<RequestProblem> ParseCaptureRequest(std::string_view content_type,
                                                  const HeaderLookup& header, std::string body,
                                                  CaptureRequest* out) {
  const std::string media = MediaType(content_type);
  if (media == "image/jpeg" || media == "image/png") {
    if (auto p = MetadataFromHeaders(header, &out->metadata)) return p;
    if (auto p = CheckMetadata(out->metadata)) return p;
    if (body.empty()) return RequestProblem{400, "empty_image", "the capture is empty"};
    out->image = std::move(body);
    return std::nullopt;
  }
  if (media == "multipart/form-data") {
    std::vector<FormPart> parts;
    if (auto e = ParseMultipart(body, HeaderParameter(content_type, "boundary"), 8, &parts)) {
      return Bad("multipart body: " + *e);
    }
    const FormPart* image = nullptr;
    const FormPart* metadata = nullptr;
    for (const auto& p : parts) {
      if (p.name == "image") {
        if (image) return Bad("more than one part named image");
        image = &p;
      } else if (p.name == "metadata") {
        if (metadata) return Bad("more than one part named metadata");
        metadata = &p;
      }  // other parts are ignored: newer terminals may send more
    }
    if (!image) return Bad("the multipart body has no part named image");
    if (!image->content_type.empty() && image->content_type != "image/jpeg" &&
        image->content_type != "image/png" && image->content_type != "application/octet-stream") {
      return RequestProblem{
          415, "unsupported_media_type",
          "the image part is " + image->content_type + ": send image/jpeg or image/png"};
    }
    // Headers first, then the metadata part overrides what it names.
    if (auto p = MetadataFromHeaders(header, &out->metadata)) return p;
    if (metadata) {
      if (auto p = MetadataFromJson(metadata->data, &out->metadata)) return p;
    }
    if (auto p = CheckMetadata(out->metadata)) return p;
    if (image->data.empty()) return RequestProblem{400, "empty_image", "the capture is empty"};
    out->image = std::string(image->data);
    return std::nullopt;
  }
  return RequestProblem{415, "unsupported_media_type",
                        media.empty() ? "no Content-Type: send image/jpeg, image/png or "
                                        "multipart/form-data"
                                      : "Content-Type " + media +
                                            " is not accepted: send image/jpeg, image/png or "
                                            "multipart/form-data"};
}

}  // namespace facegate::api
