#include "facegate/store/records.h"

namespace facegate::store {

std::string_view RecordSourceName(RecordSource source) {
  switch (source) {
    case RecordSource::kLocal:
      return "local";
    case RecordSource::kShip:
      return "ship";
  }
  return "local";
}

std::string_view TemplateSourceName(TemplateSource source) {
  switch (source) {
    case TemplateSource::kImport:
      return "import";
    case TemplateSource::kEnrollment:
      return "enrollment";
    case TemplateSource::kAdmin:
      return "admin";
  }
  return "admin";
}

std::string_view DecisionName(Decision decision) {
  return decision == Decision::kGrant ? "grant" : "deny";
}

std::string_view AdminRoleName(AdminRole role) {
  switch (role) {
    case AdminRole::kViewer:
      return "viewer";
    case AdminRole::kOperator:
      return "operator";
    case AdminRole::kAdmin:
      return "admin";
  }
  return "viewer";
}

std::optional<AdminRole> ParseAdminRole(std::string_view name) {
  for (AdminRole r : {AdminRole::kViewer, AdminRole::kOperator, AdminRole::kAdmin}) {
    if (AdminRoleName(r) == name) return r;
  }
  return std::nullopt;
}

std::string_view IntegrationStatusName(IntegrationStatus s) {
  switch (s) {
    case IntegrationStatus::kConnected:
      return "connected";
    case IntegrationStatus::kUnauthorized:
      return "unauthorized";
    case IntegrationStatus::kDisconnected:
      return "disconnected";
    case IntegrationStatus::kNoStatus:
      return "no_status";
  }
  return "no_status";
}

bool IsKnownDeviceCommand(std::string_view command) {
  for (std::string_view k : {"reboot", "recommission", "decommission", "config", "open", "update",
                             "identify", "sync_time"}) {
    if (command == k) return true;
  }
  return false;
}

bool IsSecretSettingKey(std::string_view name) {
  return name.find("key") != std::string_view::npos ||
         name.find("password") != std::string_view::npos ||
         name.find("secret") != std::string_view::npos;
}

std::optional<IntegrationStatus> ParseIntegrationStatus(std::string_view name) {
  for (IntegrationStatus s : {IntegrationStatus::kConnected, IntegrationStatus::kUnauthorized,
                              IntegrationStatus::kDisconnected, IntegrationStatus::kNoStatus}) {
    if (IntegrationStatusName(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace facegate::store
