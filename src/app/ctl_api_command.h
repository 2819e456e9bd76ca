// The plumbing the facegatectl commands that talk to facegated's admin API share (ctl_site.cc,
// ctl_device.cc, ctl_enroll.cc, ctl_token.cc, ctl_admin.cc): argument parsing with the
// connection options, one client, requests whose failures are reported with the right exit
// code, paging through lists, and URL encoding of path segments and query values.
// Thread-safety: none needed; one command per process.
#pragma once

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctl_client.h"
#include "ctl_common.h"

namespace facegate::app::ctl {

// The options every API command takes, spliced into the help texts.
#define FG_API_OPTIONS                                \
  "  --json            one JSON document on stdout\n" \
  "  -h, --help        show this help\n"              \
  "\n"                                                \
  "Connection:\n" FACEGATE_CTL_CLIENT_OPTIONS_HELP
#define FG_API_EXIT                                                                           \
  "3 the daemon cannot be reached, 4 the token is refused (unknown, revoked, or its role is " \
  "too\nlow), "
#define FG_API_EXIT_LAST                                                                           \
  "3 the daemon cannot be reached, 4 the token is refused\n(unknown, revoked, or its role is too " \
  "low).\n"

// Percent-encodes everything but the unreserved characters (RFC 3986): for one path segment
// ("a/b c%" -> "a%2Fb%20c%25") or one query value.
inline std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// "?a=1&b=x%20y" from the pairs whose value is set; "" when none is.
inline std::string QueryString(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!v) continue;
    out += (out.empty() ? "?" : "&") + k + "=" + UrlEncode(*v);
  }
  return out;
}

inline void PrintJson(const nlohmann::json& j) { std::printf("%s\n", j.dump(2).c_str()); }

inline std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// A string member of `j`, `none` when it is absent, null or not a string.
inline std::string Str(const nlohmann::json& j, const char* key, std::string none = "-") {
  if (!j.is_object()) return none;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return none;
  std::string v = it->get<std::string>();
  return v.empty() ? none : v;
}

// One API command: its name for messages, its arguments and (after Connect) its client.
struct ApiCommand {
  std::string prog;
  const char* help = nullptr;
  Args args;
  std::unique_ptr<ApiClient> client;
  int rc = kOk;  // the exit code of the last failed step

  // Parses argv; kOk to go on, else what Done turns into the exit code (kHelpShown: 0).
  int Parse(int argc, char** argv, std::string name, const char* help_text,
            std::initializer_list<std::string_view> flags,
            std::initializer_list<std::string_view> valued, size_t min_positional,
            size_t max_positional, std::string_view missing) {
    prog = std::move(name);
    help = help_text;
    int r = ParseApiArgs(argc, argv, prog, help, flags, valued, &args);
    if (r != kOk) return r;  // kHelpShown too: see Done
    if (!ExpectPositional(args, min_positional, max_positional, prog, missing, help)) {
      return kUsage;
    }
    return kOk;
  }
  // The exit code for what Parse returned when it was not kOk.
  static int Done(int r) { return r == kHelpShown ? kOk : r; }

  // Finds the URL, token and CA and makes the client. kOk, or the exit code (message printed).
  int Connect() {
    auto options = ResolveClientOptions(args);
    if (!options.ok()) return UsageError(prog, options.status().message());
    auto c = ApiClient::Create(*options);
    if (!c.ok()) return FailRequest(prog, c.status());
    client = std::move(c).value();
    return kOk;
  }

  // One request. A success answer is returned; a failure (no answer, or an error status) is
  // printed, `rc` set to its exit code, and nullopt returned.
  std::optional<ApiResponse> Call(std::string_view method, const std::string& path,
                                  const nlohmann::json* body = nullptr) {
    Result<ApiResponse> r = body ? client->Request(method, path, body->dump(), "application/json")
                                 : client->Request(method, path);
    if (!r.ok()) {
      rc = FailRequest(prog, r.status());
      return std::nullopt;
    }
    if (!r->ok()) {
      rc = FailResponse(prog, *r);
      return std::nullopt;
    }
    return std::move(r).value();
  }
  std::optional<nlohmann::json> Get(const std::string& path) {
    auto r = Call("GET", path);
    if (!r) return std::nullopt;
    return r->json;
  }
  std::optional<nlohmann::json> Send(std::string_view method, const std::string& path,
                                     const nlohmann::json& body) {
    auto r = Call(method, path, &body);
    if (!r) return std::nullopt;
    return r->json;
  }

  // Every item of a paged list (`path` may carry a query already), following next_cursor;
  // at most `max_items` (0: all).
  std::optional<nlohmann::json> GetAll(const std::string& path, size_t max_items = 0) {
    nlohmann::json items = nlohmann::json::array();
    std::string cursor;
    for (;;) {
      size_t want = 1000;
      if (max_items > 0) want = std::min<size_t>(1000, max_items - items.size());
      std::string p = path + (path.find('?') == std::string::npos ? "?" : "&") +
                      "limit=" + std::to_string(want);
      if (!cursor.empty()) p += "&cursor=" + UrlEncode(cursor);
      auto page = Get(p);
      if (!page) return std::nullopt;
      if (page->contains("items") && (*page)["items"].is_array()) {
        for (auto& item : (*page)["items"]) items.push_back(std::move(item));
      }
      if (max_items > 0 && items.size() >= max_items) break;
      auto next = page->find("next_cursor");
      if (next == page->end() || !next->is_string() || next->get<std::string>().empty()) break;
      cursor = next->get<std::string>();
    }
    return items;
  }
};

}  // namespace facegate::app::ctl
