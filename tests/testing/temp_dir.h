// TempDir: a fresh directory under $TMPDIR removed (recursively) when the test ends.
#pragma once

#include <filesystem>
#include <string>

namespace facegate::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The source tree (tests read fixtures from it); from $FACEGATE_SOURCE_DIR set by CTest.
std::filesystem::path SourceDir();
// The build tree (tests find the built binaries there); from $FACEGATE_BINARY_DIR.
std::filesystem::path BinaryDir();

}  // namespace facegate::testing
