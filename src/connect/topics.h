// What may stand as one level of a topic (server ids, prefixes, request ids): 1 to 64 of
// [A-Za-z0-9._-], so no wildcard, separator or space ever reaches a topic. Private to
// src/connect.
#pragma once

#include <string>

namespace facegate::connect::internal {

inline bool IsTopicLevel(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace facegate::connect::internal
