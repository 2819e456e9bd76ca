// Build identity, reported by --version, /metrics (facegate_build_info) and logs.
#pragma once

#include <string_view>

namespace facegate {

std::string_view Version();     // "0.1.0"
std::string_view BuildType();   // "Release"
std::string_view CompilerId();  // "GNU 12.2.0"

}  // namespace facegate
