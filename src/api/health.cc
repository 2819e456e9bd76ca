#include "facegate/api/health.h"

#include <nlohmann/json.hpp>

#include "facegate/core/version.h"

namespace facegate::api {

namespace http = boost::beast::http;

void Readiness::Require(const std::string& component) {
  std::lock_guard lock(mu_);
  checks_.try_emplace(component, Check{false, "starting"});
}

void Readiness::Set(const std::string& component, bool ready, std::string detail) {
  std::lock_guard lock(mu_);
  checks_[component] = Check{ready, std::move(detail)};
}

void Readiness::SetWarning(const std::string& name, std::string message) {
  std::lock_guard lock(mu_);
  warnings_[name] = std::move(message);
}

void Readiness::ClearWarning(const std::string& name) {
  std::lock_guard lock(mu_);
  warnings_.erase(name);
}

void Readiness::SetDraining() {
  std::lock_guard lock(mu_);
  draining_ = true;
}

bool Readiness::Ready() const {
  std::lock_guard lock(mu_);
  if (draining_) return false;
  for (const auto& [name, check] : checks_) {
    if (!check.ready) return false;
  }
  return true;
}

std::string Readiness::ReportJson() const {
  bool ready = Ready();
  std::lock_guard lock(mu_);
  nlohmann::json checks = nlohmann::json::object();
  for (const auto& [name, check] : checks_) {
    checks[name] = {{"ready", check.ready}, {"detail", check.detail}};
  }
  nlohmann::json warnings = nlohmann::json::array();
  for (const auto& [name, message] : warnings_) {
    warnings.push_back({{"name", name}, {"message", message}});
  }
  nlohmann::json body = {{"status", draining_ ? "draining" : (ready ? "ready" : "not_ready")},
                         {"checks", checks},
                         {"warnings", warnings}};
  return body.dump() + "\n";
}

void AddHealthRoutes(net::Router& router, HealthRoutes which,
                     std::shared_ptr<const Readiness> readiness, MetricsRegistry* metrics,
                     const Clock& clock, Clock::MonoTime start) {
  router.Add(
      http::verb::get, "/healthz", "healthz",
      [](std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
        respond(net::MakeJsonResponse(ctx->message, http::status::ok, "{\"status\":\"ok\"}\n"));
      });
  router.Add(http::verb::get, "/readyz", "readyz",
             [readiness](std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
               auto status =
                   readiness->Ready() ? http::status::ok : http::status::service_unavailable;
               respond(net::MakeJsonResponse(ctx->message, status, readiness->ReportJson()));
             });
  if (!which.metrics) return;
  metrics
      ->GetGauge("facegate_build_info", "Build of the running daemon (always 1).",
                 {"version", "build_type", "compiler"},
                 {std::string(Version()), std::string(BuildType()), std::string(CompilerId())})
      ->Set(1);
  Gauge* uptime = metrics->GetGauge("facegate_uptime_seconds", "Seconds since the daemon started.");
  router.Add(http::verb::get, "/metrics", "metrics",
             [metrics, uptime, &clock, start](std::shared_ptr<net::RequestContext> ctx,
                                              net::Responder respond) {
               uptime->Set(std::chrono::duration<double>(clock.Monotonic() - start).count());
               net::HttpResponse res{http::status::ok, ctx->message.version()};
               res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
               res.set(http::field::cache_control, "no-store");
               res.keep_alive(ctx->message.keep_alive());
               res.body() = metrics->RenderPrometheus();
               respond(std::move(res));
             });
}

}  // namespace facegate::api
