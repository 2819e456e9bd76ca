// Liveness, readiness and metrics endpoints.
//
//   GET /healthz  200 while the event loop answers (liveness).
//   GET /readyz   200 once every component reported ready, 503 before that and while
//                 draining; the body lists each check and any warnings.
//   GET /metrics  the Prometheus text exposition of the registry.
// Thread-safety: Readiness may be updated from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "facegate/core/clock.h"
#include "facegate/core/metrics.h"
#include "facegate/net/http_server.h"

namespace facegate::api {

class Readiness {
 public:
  // A component that must be ready before the daemon is; starts not ready.
  void Require(const std::string& component);
  void Set(const std::string& component, bool ready, std::string detail = {});
  // A warning shown by /readyz that does not make the daemon unready (e.g. time not synced).
  void SetWarning(const std::string& name, std::string message);
  void ClearWarning(const std::string& name);
  void SetDraining();

  bool Ready() const;
  std::string ReportJson() const;

 private:
  struct Check {
    bool ready = false;
    std::string detail;
  };
  mutable std::mutex mu_;
  std::map<std::string, Check> checks_;          // GUARDED_BY(mu_)
  std::map<std::string, std::string> warnings_;  // GUARDED_BY(mu_)
  bool draining_ = false;                        // GUARDED_BY(mu_)
};

struct HealthRoutes {
  bool metrics = false;  // serve /metrics on this listener
};

// Adds /healthz, /readyz and (optionally) /metrics to `router`. `start` is the daemon's
// start time on `clock`; uptime and build info are exported with the metrics.
void AddHealthRoutes(net::Router& router, HealthRoutes which,
                     std::shared_ptr<const Readiness> readiness, MetricsRegistry* metrics,
                     const Clock& clock, Clock::MonoTime start);

}  // namespace facegate::api
