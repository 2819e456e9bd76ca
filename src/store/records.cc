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

}  // namespace facegate::store
