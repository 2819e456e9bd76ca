// The inbound SHIP endpoint (docs/ship.md): Salto Space calls Facegate at
// POST /api/v1/ship on the admin listener, authenticated with the same SHIP key Facegate
// uses for its calls (Salto-SHIP-Key), not with an admin token. Answers are SHIP
// RequestResponses; a request Facegate does not know gets SHIP's Exception 502.
#include <spdlog/spdlog.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "admin/admin_impl.h"
#include "facegate/core/version.h"
#include "facegate/ship/message.h"
#include "facegate/ship/transport.h"

namespace facegate::admin::internal {
namespace {

using json = nlohmann::json;
namespace http = net::http;

net::HttpResponse ShipAnswer(const net::HttpRequest& req, http::status code, std::string body,
                             std::string_view type) {
  net::HttpResponse res{code, req.version()};
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

net::HttpResponse Exception(const net::HttpRequest& req, const std::string& name, int code,
                            std::string message) {
  ship::RequestResponse r{name.empty() ? "Unknown" : name, ship::Element("Params"),
                          ship::ShipException{code, std::move(message)}};
  return ShipAnswer(req, http::status::ok, ship::Encode(r), ship::kShipMediaType);
}

std::string LocalNow(Clock::WallTime now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  ship::LocalDateTime d{tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                        tm.tm_hour,        tm.tm_min,     tm.tm_sec};
  return ship::FormatDateTime(d);
}

}  // namespace

net::HttpResponse AdminApiImpl::InboundShip(const net::RequestContext& ctx) {
  const net::HttpRequest& req = ctx.message;
  auto plain = [&](http::status code, std::string message) {
    return ShipAnswer(req, code, std::move(message) + "\n", "text/plain; charset=utf-8");
  };
  auto row = store().GetIntegration("space");
  std::string key;
  if (row.ok() && *row && (*row)->enabled) {
    json settings = json::parse((*row)->settings_json, nullptr, false);
    if (settings.is_object()) key = settings.value("api_key", "");
  }
  if (key.empty()) {
    return plain(http::status::not_found, "the Salto Space integration is not enabled here");
  }
  const auto presented = req["Salto-SHIP-Key"];
  if (!ConstantTimeEqual(std::string_view(presented.data(), presented.size()), key)) {
    spdlog::warn("integration=space inbound SHIP call from {} refused: wrong or missing key",
                 ctx.remote_address);
    auto res = plain(http::status::unauthorized, "wrong or missing Salto-SHIP-Key");
    res.set(http::field::www_authenticate, "Salto-SHIP-Key");
    return res;
  }
  std::string type(req[http::field::content_type]);
  type = type.substr(0, type.find(';'));
  if (type != ship::kShipMediaType && type != "application/xml" && type != "text/xml") {
    return plain(http::status::unsupported_media_type,
                 "expected Content-Type " + std::string(ship::kShipMediaType));
  }
  auto call = ship::DecodeRequestCall(req.body());
  if (!call.ok()) {
    return Exception(req, "", ship::error_code::kXmlMalformed, call.status().message());
  }
  spdlog::info("integration=space inbound SHIP {} from {}", call->name, ctx.remote_address);
  if (call->name == "GetInfo") {
    ship::RequestResponse r{call->name, ship::Element("Params"), std::nullopt};
    r.params.Add("ProtocolID", "SHIP");
    r.params.Add("ProtocolVersion", "1.0");
    r.params.Add("DateTime", LocalNow(clock().Now()));
    r.params.Add("Application", "Facegate " + std::string(Version()));
    return ShipAnswer(req, http::status::ok, ship::Encode(r), ship::kShipMediaType);
  }
  if (call->name == "UserChanged" || call->name == "SaltoDBUser.Changed") {
    // The public SHIP subset has no single-user read: a full sync (one transaction) brings
    // the change, and every other one since the last sync.
    const std::string user(call->params.TextOf("ExtUserID"));
    if (ctx_.request_space_sync) ctx_.request_space_sync();
    spdlog::info("integration=space Space reports user '{}' changed: sync requested", user);
    ship::RequestResponse r{call->name, ship::Element("Params"), std::nullopt};
    r.params.Add("SyncRequested", "1");
    return ShipAnswer(req, http::status::ok, ship::Encode(r), ship::kShipMediaType);
  }
  return Exception(req, call->name, ship::error_code::kUnknownRequest, "Unknown request");
}

void AdminApiImpl::AddShipRoute(net::Router& router) {
  std::weak_ptr<AdminApiImpl> weak = weak_from_this();
  router.Add(http::verb::post, "/api/v1/ship", "ship.inbound",
             [weak](std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
               auto self = weak.lock();
               if (!self) {
                 respond(net::MakeErrorResponse(ctx->message, http::status::service_unavailable,
                                                "stopping", "the server is stopping"));
                 return;
               }
               AdminApiImpl* api = self.get();
               if (!api->pool_->Post([api, ctx, respond] { respond(api->InboundShip(*ctx)); })) {
                 respond(net::MakeErrorResponse(ctx->message, http::status::service_unavailable,
                                                "busy", "the admin API is busy: retry"));
               }
             });
}

}  // namespace facegate::admin::internal
