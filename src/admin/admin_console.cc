// The web console's files (web/, built by Vite into index.html and assets/), served at / on
// the admin listener. docs/web-console.md.
//
// They are read into memory once, when the routes are added: a few hundred kilobytes, and
// serving them never touches the disk or leaves the I/O thread. Asset names carry a content
// hash, so they are cached for a year; index.html is revalidated each time (its ETag).
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>

#include "admin_impl.h"
#include "facegate/core/files.h"

namespace facegate::admin::internal {
namespace {

// What the console needs and nothing more: its own scripts and styles, images it draws (QR
// codes as data: URLs, photos as blob: URLs), and calls to the API on the same origin.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
constexpr size_t kMaxConsoleBytes = 16 << 20;

std::string ContentTypeFor(const std::filesystem::path& p) {
  static const std::map<std::string, std::string, std::less<>> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
  };
  auto it = kTypes.find(p.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

std::string Etag(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string tag = "\"";
  for (unsigned int i = 0; i < 12 && i < len; ++i) {
    tag += kHex[digest[i] >> 4];
    tag += kHex[digest[i] & 15];
  }
  return tag + "\"";
}

bool SafeAssetName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<ConsoleFiles> ConsoleFiles::Load(const std::filesystem::path& dir) {
  ConsoleFiles files;
  size_t total = 0;
  auto add = [&](const std::filesystem::path& path, std::string name) -> Status {
    auto body = ReadFile(path, kMaxConsoleBytes);
    if (!body.ok()) return body.status();
    total += body->size();
    if (total > kMaxConsoleBytes) {
      return Status::InvalidArgument("the console in " + dir.string() + " is larger than 16 MiB");
    }
    ConsoleFile f;
    f.content_type = ContentTypeFor(path);
    f.etag = Etag(*body);
    f.body = std::move(body).value();
    files.files_.emplace(std::move(name), std::move(f));
    return Status::Ok();
  };
  FACEGATE_RETURN_IF_ERROR(add(dir / "index.html", "index.html"));
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir / "assets", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!it->is_regular_file() || !SafeAssetName(name)) continue;
    FACEGATE_RETURN_IF_ERROR(add(it->path(), "assets/" + name));
  }
  if (ec) {
    return Status::Unavailable("cannot list " + (dir / "assets").string() + ": " + ec.message());
  }
  return files;
}

const ConsoleFile* ConsoleFiles::Find(std::string_view name) const {
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : &it->second;
}

void SetConsoleSecurityHeaders(net::HttpResponse& res) {
  res.set("Content-Security-Policy", kContentSecurityPolicy);
  res.set(net::http::field::x_frame_options, "DENY");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Cross-Origin-Opener-Policy", "same-origin");
  res.set("Cross-Origin-Resource-Policy", "same-origin");
}

void AdminApiImpl::AddConsoleRoutes(net::Router& router) {
  if (options_.console_dir.empty()) {
    spdlog::info("web console: off (admin.console_dir is empty)");
    return;
  }
  auto loaded = ConsoleFiles::Load(options_.console_dir);
  if (!loaded.ok()) {
    // The API works without it; say why the page is missing.
    spdlog::warn("web console: not served: {}", loaded.status().ToString());
    return;
  }
  auto files = std::make_shared<const ConsoleFiles>(std::move(loaded).value());
  spdlog::info("web console: {} files from {}", files->size(), options_.console_dir);
  auto serve = [files](const net::RequestContext& ctx, std::string_view name, bool immutable) {
    const ConsoleFile* f = files->Find(name);
    if (!f) {
      auto res = net::MakeErrorResponse(ctx.message, status::not_found, "not_found",
                                        "no such console file");
      SetConsoleSecurityHeaders(res);
      return res;
    }
    const bool fresh = ctx.message[net::http::field::if_none_match] == f->etag;
    net::HttpResponse res{fresh ? status::not_modified : status::ok, ctx.message.version()};
    res.set(net::http::field::content_type, f->content_type);
    res.set(net::http::field::etag, f->etag);
    res.set(net::http::field::cache_control,
            immutable ? "public, max-age=31536000, immutable" : "no-cache");
    SetConsoleSecurityHeaders(res);
    res.keep_alive(ctx.message.keep_alive());
    if (!fresh) res.body() = f->body;
    res.prepare_payload();
    return res;
  };
  router.Add(net::http::verb::get, "/", "console",
             [serve](std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
               respond(serve(*ctx, "index.html", false));
             });
  router.Add(net::http::verb::get, "/assets/{name}", "console_asset",
             [serve](std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
               const std::string name = PercentDecode(ctx->path_params.at(0), false);
               respond(serve(*ctx, "assets/" + name, true));
             });
}

}  // namespace facegate::admin::internal
