// The journal of `facegatectl import --resume`: `<CSV>.import-state`, append-only, one line
// per finished row, fsynced once per batch, so that a run after a crash or Ctrl-C skips the
// rows already finished without uploading their photos again.
//
// Format (text, one entry a line, fields separated by tabs, \t \n \r \\ escaped):
//   facegate-import-journal 1 <sha256 of the CSV, hex>
//   <line>\t<status>\t<external id>\t<reason>\t<message>
// The first line ties the journal to one version of the CSV: line numbers mean nothing in
// another. A crash can leave the last line torn (no newline yet); reading stops at the first
// line that is not a whole entry, and that tail is cut off before anything is appended.
// Thread-safety: none; one writer (the import's result collector, under its lock).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/status.h"

namespace facegate::app::import {

struct JournalEntry {
  int line = 0;
  std::string status;  // imported, skipped, rejected
  std::string external_id;
  std::string reason;  // rejected: the reason (no_face, unreadable_file, ...)
  std::string message;

  bool operator==(const JournalEntry&) const = default;
};

class ImportJournal {
 public:
  struct Loaded {
    std::vector<JournalEntry> entries;  // in the order written
    size_t dropped_bytes = 0;           // a torn or garbled tail that was cut off
    bool existed = false;               // a journal of this CSV was there
  };

  // Opens the journal `path` for the CSV whose SHA-256 is `fingerprint` (hex).
  // resume: reads the existing entries into *loaded (none when there is no journal yet) and
  // appends after them; a journal written for another version of the CSV is a
  // FailedPrecondition. Otherwise a new, empty journal replaces whatever was there.
  static Result<std::unique_ptr<ImportJournal>> Open(const std::filesystem::path& path,
                                                     std::string_view fingerprint, bool resume,
                                                     Loaded* loaded);
  ~ImportJournal();
  ImportJournal(const ImportJournal&) = delete;
  ImportJournal& operator=(const ImportJournal&) = delete;

  // Appends the entries and fsyncs: once it returns they survive a crash.
  Status Append(const std::vector<JournalEntry>& entries);

  const std::filesystem::path& path() const { return path_; }

  // One entry as a line (with its '\n') and back; exposed for the tests.
  static std::string EncodeLine(const JournalEntry& entry);
  static std::optional<JournalEntry> DecodeLine(std::string_view line);  // without the '\n'
  static std::string HeaderLine(std::string_view fingerprint);           // with its '\n'

 private:
  ImportJournal(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::filesystem::path path_;
  int fd_ = -1;
};

// SHA-256 of `data`, lower-case hex.
std::string Sha256Hex(std::string_view data);

}  // namespace facegate::app::import
