// Running the real facegatectl binary from black-box tests.
// Thread-safety: RunCtl may be called from one test thread at a time.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace facegate::testing {

// BinaryDir()/src/app/facegatectl.
std::filesystem::path CtlBinary();

struct CtlResult {
  int code = -1;  // exit code; -1 when it did not exit normally (or was killed at the timeout)
  std::string out;
  std::string err;
};

// Runs facegatectl with `args`, stdout and stderr kept apart (scripts parse stdout alone) and
// stdin /dev/null (not a terminal, so a command that would ask must refuse instead). The
// output goes through files in `dir`. A run longer than 90 s is killed.
CtlResult RunCtl(const std::filesystem::path& dir, const std::vector<std::string>& args);

// "exit N" with both outputs, for assertion messages.
std::string Describe(const CtlResult& r);

}  // namespace facegate::testing
