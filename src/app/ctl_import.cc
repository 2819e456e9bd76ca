// `facegatectl import CSV`: a bulk import through the admin API (POST /api/v1/import,
// docs/admin-api.md). The CSV is read here (import_csv.h), each row's photos are read from disk
// here and sent in batches over --jobs parallel connections; the daemon embeds them at the bulk
// priority (doors never wait for an import), checks duplicates and writes each batch in one
// transaction. Idempotent: a user already imported is answered "skipped".
//
// Robustness: rows already finished are journaled (import_journal.h, fsynced per batch), so
// --resume after a crash or Ctrl-C goes on where the run stopped; the report CSV of rejected
// rows is rewritten atomically (at most once a second, and at the end), so a crash leaves one.
// A first SIGINT/SIGTERM stops sending new batches and waits for those in flight; a second one
// ends the process at once (the journal is still consistent).
#include <pthread.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ctl_client.h"
#include "ctl_common.h"
#include "facegate/core/files.h"
#include "import_csv.h"
#include "import_journal.h"

namespace facegate::app {
namespace {

using ctl::kFailure;
using ctl::kHelpShown;
using ctl::kOk;
using ctl::kUsage;
using json = nlohmann::json;
using Seconds = std::chrono::duration<double>;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kProg = "facegatectl import";
constexpr size_t kMaxPhotoBytes = 64u << 20;
constexpr int kMaxBusyRetries = 3;       // a row the face workers had no time for
constexpr int kMaxTransportRetries = 2;  // a batch whose connection failed
constexpr int kMaxBusyWaits = 30;        // 503 answers to one batch

constexpr const char* kImportHelp =
    "Usage: facegatectl import CSV [--photos DIR] [--jobs N] [--batch N] [--dry-run]\n"
    "                              [--resume] [--report FILE] [--json]\n"
    "                              [--url URL] [--token-file FILE] [--ca FILE]\n"
    "\n"
    "Imports users and their faces from a CSV file through the admin API of a running\n"
    "facegated. The photos are uploaded; the daemon embeds them at a lower priority than the\n"
    "doors' captures and writes users and templates in batches.\n"
    "\n"
    "CSV (comma-separated, UTF-8, a header row naming the columns):\n"
    "  external_id      required, unique\n"
    "  first_name, last_name\n"
    "  photo            photo file(s), ';'-separated; or columns photo1, photo2, ...\n"
    "  groups           optional, ';'-separated group external ids\n"
    "  valid_from, valid_until\n"
    "                   optional, RFC 3339 (2026-12-01T08:00:00Z) or a date (2026-12-01:\n"
    "                   that whole day, in this host's time zone)\n"
    "\n"
    "Re-running an import adds nothing: users already imported are skipped. Every rejected\n"
    "row is in the report with its reason (unreadable_file, no_face, multiple_faces,\n"
    "low_quality, duplicate, bad_csv_line, ...).\n"
    "\n"
    "Options:\n"
    "  --photos DIR      photo paths are relative to DIR (default: the CSV's directory)\n"
    "  --jobs N          parallel connections (default 4)\n"
    "  --batch N         rows per request (default 8)\n"
    "  --dry-run         the server checks and embeds every photo but writes nothing\n"
    "  --resume          skip the rows a previous run finished (its journal CSV.import-state);\n"
    "                    without it the journal is started anew\n"
    "  --report FILE     the rejected rows (default CSV.report.csv)\n"
    "  --json            the summary as one JSON document on "
    "stdout\n" FACEGATE_CTL_CLIENT_OPTIONS_HELP
    "  -h, --help        show this help\n"
    "\n"
    "Ctrl-C stops after the batches being sent (a second Ctrl-C at once); --resume continues.\n"
    "\n"
    "Exit status: 0 every row imported or skipped, 1 some rows rejected (see the report) or a\n"
    "failure, 2 usage error, 3 cannot reach the daemon, 4 token refused (401/403), 130\n"
    "interrupted.\n";

// ---------------------------------------------------------------- signals

volatile std::sig_atomic_t g_signal = 0;

extern "C" void OnStopSignal(int sig) {
  g_signal = sig;
  std::signal(sig, SIG_DFL);  // a second one ends the process
}

// ---------------------------------------------------------------- the run

struct Outcome {
  int line = 0;
  std::string external_id;
  std::string status;  // imported, valid (dry run), skipped, rejected
  std::string reason;
  std::string message;
  bool transient = false;  // rejected for now only (busy, internal): not journaled
};

struct Fatal {
  std::string message;
  int exit_code = kFailure;
};

std::string ContentTypeFor(const std::filesystem::path& p, std::string_view data) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".jpg" || ext == ".jpeg" || ext == ".jpe") return "image/jpeg";
  if (ext == ".png") return "image/png";
  if (data.substr(0, 3) == "\xFF\xD8\xFF") return "image/jpeg";
  if (data.substr(0, 8) == "\x89PNG\r\n\x1A\n") return "image/png";
  return "application/octet-stream";
}

std::string CsvField(std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string FormatDuration(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%d s", static_cast<int>(s + 0.5));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%d min %02d s", static_cast<int>(s) / 60,
                  static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%d h %02d min", static_cast<int>(s) / 3600,
                  (static_cast<int>(s) / 60) % 60);
  }
  return buf;
}

class ImportRun {
 public:
  struct Settings {
    std::filesystem::path photos_dir;
    size_t batch = 8;
    bool dry_run = false;
  };

  ImportRun(Settings settings, std::vector<const import::ImportRow*> pending,
            import::ImportJournal* journal)
      : settings_(std::move(settings)),
        pending_(std::move(pending)),
        attempts_(pending_.size(), 0),
        journal_(journal) {}

  // One worker: batches until there are none left or the run stops.
  void Work(ctl::ApiClient& client) {
    while (auto batch = TakeBatch()) {
      SendBatch(client, *batch);
      std::lock_guard lock(mu_);
      --in_flight_;
      cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    --workers_;
    cv_.notify_all();
  }

  void Start(int workers) {
    std::lock_guard lock(mu_);
    workers_ = workers;
  }
  void Stop() {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  bool stopping() {
    std::lock_guard lock(mu_);
    return stop_;
  }
  // Waits up to `d` for the workers to end; true when they all have.
  bool WaitWorkers(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] { return workers_ == 0; });
  }
  int in_flight() {
    std::lock_guard lock(mu_);
    return in_flight_;
  }

  struct Snapshot {
    size_t rows_done = 0;  // this run
    size_t photos = 0;     // sent this run
    std::map<std::string, size_t> by_status;
    std::vector<Outcome> rejected;  // when asked for
    bool rejected_changed = false;
  };
  Snapshot Take(bool with_rejected) {
    std::lock_guard lock(mu_);
    Snapshot s;
    s.rows_done = rows_done_;
    s.photos = photos_;
    s.by_status = by_status_;
    s.rejected_changed = rejected_changed_;
    if (with_rejected) {
      s.rejected = rejected_;
      rejected_changed_ = false;
    }
    return s;
  }
  std::optional<Fatal> fatal() {
    std::lock_guard lock(mu_);
    return fatal_;
  }
  size_t total() const { return pending_.size(); }

 private:
  std::optional<std::vector<size_t>> TakeBatch() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (stop_) return std::nullopt;
      if (!retry_.empty()) {
        auto b = std::move(retry_.front());
        retry_.pop_front();
        ++in_flight_;
        return b;
      }
      if (next_ < pending_.size()) {
        std::vector<size_t> b;
        while (next_ < pending_.size() && b.size() < settings_.batch) b.push_back(next_++);
        ++in_flight_;
        return b;
      }
      if (in_flight_ == 0) return std::nullopt;  // nothing can come back to do any more
      cv_.wait(lock);
    }
  }

  void SetFatal(std::string message, int exit_code) {
    std::lock_guard lock(mu_);
    if (!fatal_) fatal_ = Fatal{std::move(message), exit_code};
    stop_ = true;
    cv_.notify_all();
  }

  // Sleeps up to `d`, less when the run stops; false when it stopped.
  bool Pause(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [&] { return stop_; });
  }

  void Record(std::vector<Outcome> outcomes, size_t photos) {
    std::vector<import::JournalEntry> entries;
    for (const auto& o : outcomes) {
      if (o.transient || o.status == "valid") continue;
      entries.push_back({o.line, o.status, o.external_id, o.reason, o.message});
    }
    std::lock_guard lock(mu_);
    if (journal_ && !entries.empty()) {
      if (Status s = journal_->Append(entries); !s.ok()) {
        if (!fatal_) fatal_ = Fatal{"the journal: " + s.message(), kFailure};
        stop_ = true;
        cv_.notify_all();
      }
    }
    photos_ += photos;
    rows_done_ += outcomes.size();
    for (auto& o : outcomes) {
      ++by_status_[o.status];
      if (o.status == "rejected") {
        rejected_.push_back(std::move(o));
        rejected_changed_ = true;
      }
    }
  }

  void Requeue(std::vector<size_t> rows, bool front) {
    if (rows.empty()) return;
    std::lock_guard lock(mu_);
    if (front) {
      retry_.push_front(std::move(rows));
    } else {
      retry_.push_back(std::move(rows));
    }
    cv_.notify_all();
  }

  std::filesystem::path PhotoPath(const std::string& photo) const {
    std::filesystem::path p(photo);
    return p.is_absolute() ? p : settings_.photos_dir / p;
  }

  // The server names photos by their part ("photo p3: no face found"): name the file instead.
  static std::string WithFileNames(std::string message,
                                   const std::vector<std::pair<std::string, std::string>>& keys) {
    for (const auto& [key, file] : keys) {
      const std::string from = "photo " + key + ":";
      for (size_t at = message.find(from); at != std::string::npos;
           at = message.find(from, at + 1)) {
        message.replace(at, from.size(), "photo " + file + ":");
      }
    }
    return message;
  }

  void SendBatch(ctl::ApiClient& client, const std::vector<size_t>& batch) {
    std::vector<Outcome> outcomes;
    std::vector<ctl::MultipartPart> parts(1);
    json rows = json::array();
    std::vector<size_t> sent;
    std::map<size_t, std::vector<std::pair<std::string, std::string>>> keys_of;  // row -> keys
    size_t photos = 0;
    int key = 0;
    for (size_t idx : batch) {
      const import::ImportRow& row = *pending_[idx];
      std::vector<ctl::MultipartPart> row_parts;
      std::vector<std::pair<std::string, std::string>> keys;
      std::string unreadable;
      for (const auto& photo : row.photos) {
        const auto path = PhotoPath(photo);
        auto data = ReadFile(path, kMaxPhotoBytes);
        if (!data.ok()) {
          unreadable = "photo " + photo + ": " + data.status().message();
          break;
        }
        if (data->empty()) {
          unreadable = "photo " + photo + ": the file " + path.string() + " is empty";
          break;
        }
        ctl::MultipartPart part;
        part.name = "p" + std::to_string(key++);
        part.filename = path.filename().string();
        part.content_type = ContentTypeFor(path, *data);
        part.data = std::move(data).value();
        keys.emplace_back(part.name, photo);
        row_parts.push_back(std::move(part));
      }
      if (!unreadable.empty()) {
        outcomes.push_back({row.line, row.external_id, "rejected", "unreadable_file", unreadable});
        continue;
      }
      json r = {{"row", row.line}, {"external_id", row.external_id}, {"groups", row.groups}};
      if (row.first_name) r["first_name"] = *row.first_name;
      if (row.last_name) r["last_name"] = *row.last_name;
      r["valid_from"] = row.valid_from ? json(*row.valid_from) : json(nullptr);
      r["valid_until"] = row.valid_until ? json(*row.valid_until) : json(nullptr);
      json photo_keys = json::array();
      for (auto& p : row_parts) {
        photo_keys.push_back(p.name);
        parts.push_back(std::move(p));
      }
      r["photos"] = std::move(photo_keys);
      rows.push_back(std::move(r));
      photos += row.photos.size();
      keys_of[idx] = std::move(keys);
      sent.push_back(idx);
    }
    if (sent.empty()) return Record(std::move(outcomes), 0);
    parts[0].name = "manifest";
    parts[0].content_type = "application/json";
    parts[0].data = json{{"dry_run", settings_.dry_run}, {"rows", std::move(rows)}}.dump();

    int transport_failures = 0, busy_waits = 0;
    for (;;) {
      auto r = client.PostMultipart("/api/v1/import", parts);
      if (!r.ok()) {
        // A connection that failed is tried again; a timeout is not: the server may still be
        // working on the batch, and the same rows sent twice at once would meet themselves in
        // the duplicate check.
        if (r.status().code() == StatusCode::kUnavailable &&
            ++transport_failures <= kMaxTransportRetries) {
          if (Pause(std::chrono::seconds(transport_failures))) continue;
          return Record(std::move(outcomes), 0);  // stopping: these rows stay to do
        }
        SetFatal(r.status().message(), ctl::ExitCodeFor(r.status()));
        return Record(std::move(outcomes), 0);
      }
      if (r->status == 413) {
        if (sent.size() > 1) {
          // Too big for one request: the halves go first, each on its own.
          const auto mid = sent.begin() + static_cast<std::ptrdiff_t>(sent.size() / 2);
          Requeue(std::vector<size_t>(mid, sent.end()), true);
          Requeue(std::vector<size_t>(sent.begin(), mid), true);
          return Record(std::move(outcomes), 0);
        }
        size_t bytes = 0;
        for (size_t i = 1; i < parts.size(); ++i) bytes += parts[i].data.size();
        const import::ImportRow& row = *pending_[sent[0]];
        char size[32];
        if (bytes >= 1000000) {
          std::snprintf(size, sizeof size, "%.1f MB", static_cast<double>(bytes) / 1e6);
        } else {
          std::snprintf(size, sizeof size, "%.0f kB", static_cast<double>(bytes) / 1e3);
        }
        outcomes.push_back({row.line, row.external_id, "rejected", "too_large",
                            "the photos of this row are " + std::string(size) +
                                ", more than the server accepts in one request (" +
                                ctl::ErrorText(*r) + ")"});
        return Record(std::move(outcomes), 0);
      }
      if (r->status == 503 && r->retry_after_s >= 0 && ++busy_waits <= kMaxBusyWaits) {
        const int wait_s = std::clamp(r->retry_after_s, 1, 30);
        if (Pause(std::chrono::seconds(wait_s))) continue;
        return Record(std::move(outcomes), 0);  // stopping: these rows stay to do
      }
      if (!r->ok()) {
        std::string m = ctl::ErrorText(*r);
        if (r->status == 404) {
          m += " (does this facegated have the import API? it needs the same version as "
               "facegatectl)";
        }
        SetFatal(m, ctl::ExitCodeForHttpStatus(r->status));
        return Record(std::move(outcomes), 0);
      }
      std::map<int, const json*> answers;
      if (r->json.is_object() && r->json.contains("rows") && r->json["rows"].is_array()) {
        for (const json& a : r->json["rows"]) {
          if (a.is_object() && a.contains("row") && a["row"].is_number_integer()) {
            answers[a["row"].get<int>()] = &a;
          }
        }
      }
      std::vector<size_t> again;
      for (size_t idx : sent) {
        const import::ImportRow& row = *pending_[idx];
        Outcome o{row.line,
                  row.external_id,
                  "rejected",
                  "internal",
                  "the server's answer has no entry for this row",
                  true};
        if (auto it = answers.find(row.line); it != answers.end()) {
          const json& a = *it->second;
          o.status = a.value("status", std::string("rejected"));
          o.reason = a.value("reason", std::string());
          o.message = WithFileNames(a.value("message", std::string()), keys_of[idx]);
          o.transient = o.status == "rejected" && (o.reason == "busy" || o.reason == "internal");
          if (o.status == "rejected" && o.reason.empty()) o.reason = "rejected";
        }
        if (o.reason == "busy" && attempts_[idx] < kMaxBusyRetries) {
          ++attempts_[idx];
          again.push_back(idx);
          continue;
        }
        outcomes.push_back(std::move(o));
      }
      Requeue(std::move(again), false);
      return Record(std::move(outcomes), photos);
    }
  }

  const Settings settings_;
  const std::vector<const import::ImportRow*> pending_;
  std::vector<int> attempts_;  // busy retries per row; each row is in one batch at a time
  import::ImportJournal* const journal_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  size_t next_ = 0;
  std::deque<std::vector<size_t>> retry_;
  int in_flight_ = 0;
  int workers_ = 0;
  std::optional<Fatal> fatal_;
  size_t rows_done_ = 0;
  size_t photos_ = 0;
  std::map<std::string, size_t> by_status_;
  std::vector<Outcome> rejected_;
  bool rejected_changed_ = false;
};

// ---------------------------------------------------------------- progress

class Progress {
 public:
  explicit Progress(size_t total) : total_(total), tty_(::isatty(STDERR_FILENO) == 1) {}

  // done: rows finished (this run and before); done_now: this run's; photos: sent this run.
  void Update(size_t done, size_t done_now, size_t photos, double seconds, bool force = false) {
    const auto now = SteadyClock::now();
    const double rate = seconds > 0 ? static_cast<double>(photos) / seconds : 0;
    std::string eta = "-";
    if (done_now > 0 && done < total_) {
      eta = FormatDuration(static_cast<double>(total_ - done) * seconds /
                           static_cast<double>(done_now));
    } else if (done >= total_) {
      eta = "0 s";
    }
    char stats[128];
    std::snprintf(stats, sizeof stats, "%zu/%zu rows, %.1f photos/s, ETA %s", done, total_, rate,
                  eta.c_str());
    if (tty_) {
      if (!force && now - last_ < std::chrono::milliseconds(200)) return;
      last_ = now;
      winsize ws{};
      int cols = ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
      // A fixed room for the numbers, so that the bar does not change its width as they do.
      const int width = std::clamp(cols - 64, 0, 40);
      std::string bar;
      if (width >= 10) {
        const int filled =
            total_ ? static_cast<int>(static_cast<double>(width) * static_cast<double>(done) /
                                      static_cast<double>(total_))
                   : width;
        bar = "[" + std::string(static_cast<size_t>(filled), '#') +
              std::string(static_cast<size_t>(width - filled), '.') + "] ";
      }
      std::fprintf(stderr, "\rimport %s%s\x1b[K", bar.c_str(), stats);
      std::fflush(stderr);
      drawn_ = true;
      return;
    }
    const size_t decile = total_ ? done * 10 / total_ : 10;
    if (force || now - last_ >= std::chrono::seconds(5) || decile > last_decile_) {
      if (done == last_done_ && !force) return;
      std::fprintf(stderr, "import: %s\n", stats);
      last_ = now;
      last_decile_ = decile;
      last_done_ = done;
    }
  }

  // Clears the bar before other text goes to the terminal.
  void Clear() {
    if (tty_ && drawn_) {
      std::fputs("\r\x1b[K", stderr);
      std::fflush(stderr);
      drawn_ = false;
    }
  }

 private:
  const size_t total_;
  const bool tty_;
  SteadyClock::time_point last_ = SteadyClock::now();
  size_t last_decile_ = 0;
  size_t last_done_ = 0;
  bool drawn_ = false;
};

// ---------------------------------------------------------------- the report

Status WriteReport(const std::filesystem::path& file, std::vector<Outcome> rejected) {
  std::stable_sort(rejected.begin(), rejected.end(),
                   [](const Outcome& a, const Outcome& b) { return a.line < b.line; });
  std::string text = "line,external_id,reason,message\n";
  for (const auto& o : rejected) {
    text += std::to_string(o.line) + "," + CsvField(o.external_id) + "," + CsvField(o.reason) +
            "," + CsvField(o.message) + "\n";
  }
  return WriteFileAtomically(file, text, 0600);
}

// ---------------------------------------------------------------- the command

int RunImport(int argc, char** argv) {
  ctl::Args args;
  int rc = ctl::ParseApiArgs(argc, argv, kProg, kImportHelp, {"--dry-run", "--resume"},
                             {"--photos", "--jobs", "--batch", "--report"}, &args);
  if (rc == kHelpShown) return kOk;
  if (rc != kOk) return rc;
  if (!ctl::ExpectPositional(args, 1, 1, kProg, "missing the CSV file", kImportHelp)) {
    return kUsage;
  }
  ctl::QuietLogging();
  const std::filesystem::path csv_file = args.positional[0];
  const bool dry_run = args.Has("--dry-run");
  const bool resume = args.Has("--resume");
  if (dry_run && resume) {
    return ctl::UsageError(kProg,
                           "--dry-run and --resume do not go together (a dry run keeps no "
                           "journal)",
                           kImportHelp);
  }
  int jobs = 4;
  if (auto v = args.Value("--jobs")) {
    auto n = ctl::ParseInt(*v, 1, 32);
    if (!n) return ctl::UsageError(kProg, "--jobs must be 1-32", kImportHelp);
    jobs = static_cast<int>(*n);
  }
  size_t batch = 8;
  if (auto v = args.Value("--batch")) {
    auto n = ctl::ParseInt(*v, 1, 1000);
    if (!n) return ctl::UsageError(kProg, "--batch must be 1-1000", kImportHelp);
    batch = static_cast<size_t>(*n);
  }
  std::filesystem::path photos_dir = csv_file.parent_path();
  if (photos_dir.empty()) photos_dir = ".";
  if (auto v = args.Value("--photos")) {
    photos_dir = *v;
    std::error_code ec;
    if (!std::filesystem::is_directory(photos_dir, ec)) {
      return ctl::UsageError(kProg, "--photos " + photos_dir.string() + " is not a directory");
    }
  }
  std::filesystem::path report_file = csv_file;
  report_file += ".report.csv";
  if (auto v = args.Value("--report")) report_file = *v;
  std::filesystem::path journal_file = csv_file;
  journal_file += ".import-state";

  auto client_options = ctl::ResolveClientOptions(args);
  if (!client_options.ok()) return ctl::UsageError(kProg, client_options.status().message());

  // The CSV, whole: its bad lines are known before anything is sent.
  auto text = ReadFile(csv_file, size_t{1} << 30);
  if (!text.ok()) return ctl::Fail(kProg, text.status());
  auto parsed = import::ParseImportCsv(*text);
  if (!parsed.ok()) return ctl::Fail(kProg, parsed.status().WithContext(csv_file.string()));
  const import::ImportCsv& csv = *parsed;
  for (const auto& w : csv.warnings) {
    std::fprintf(stderr, "%s: warning: %s: %s\n", kProg, csv_file.c_str(), w.c_str());
  }

  std::vector<Outcome> earlier_rejected;  // bad lines and rejections journaled before
  for (const auto& b : csv.bad_lines) {
    earlier_rejected.push_back({b.line, b.external_id, "rejected", "bad_csv_line", b.message});
  }
  std::map<std::string, size_t> resumed_by_status;
  size_t resumed = 0;
  std::unique_ptr<import::ImportJournal> journal;
  std::vector<const import::ImportRow*> pending;
  if (!dry_run) {
    import::ImportJournal::Loaded loaded;
    auto j = import::ImportJournal::Open(journal_file, import::Sha256Hex(*text), resume, &loaded);
    if (!j.ok()) {
      if (j.status().code() == StatusCode::kFailedPrecondition) {
        return ctl::UsageError(kProg, j.status().message());
      }
      return ctl::Fail(kProg, j.status());
    }
    journal = std::move(j).value();
    if (loaded.dropped_bytes > 0) {
      std::fprintf(stderr,
                   "%s: %s: the end of the journal was torn (%zu bytes dropped; those "
                   "rows are sent again)\n",
                   kProg, journal_file.c_str(), loaded.dropped_bytes);
    }
    if (resume && !loaded.existed) {
      std::fprintf(stderr, "%s: no journal %s: starting from the first row\n", kProg,
                   journal_file.c_str());
    }
    std::map<int, import::JournalEntry> done;
    for (auto& e : loaded.entries) done[e.line] = std::move(e);
    for (const auto& row : csv.rows) {
      auto it = done.find(row.line);
      if (it == done.end() || it->second.external_id != row.external_id) {
        pending.push_back(&row);
        continue;
      }
      ++resumed;
      ++resumed_by_status[it->second.status];
      if (it->second.status == "rejected") {
        earlier_rejected.push_back(
            {row.line, row.external_id, "rejected", it->second.reason, it->second.message});
      }
    }
  } else {
    for (const auto& row : csv.rows) pending.push_back(&row);
  }

  // One client per connection; the first one checks the daemon and the token before the
  // photos are read.
  std::vector<std::unique_ptr<ctl::ApiClient>> clients;
  for (int i = 0; i < jobs; ++i) {
    auto c = ctl::ApiClient::Create(*client_options);
    if (!c.ok() && c.status().code() == StatusCode::kInvalidArgument) {
      return ctl::UsageError(kProg, c.status().message());  // a bad --url or --ca
    }
    if (!c.ok()) return ctl::FailRequest(kProg, c.status());
    clients.push_back(std::move(c).value());
  }
  if (!pending.empty()) {
    auto hello = clients[0]->GetJson("/api/v1/system");
    if (!hello.ok()) return ctl::FailRequest(kProg, hello.status());
    if (!hello->ok()) return ctl::FailResponse(kProg, *hello);
  }

  ImportRun run({photos_dir, batch, dry_run}, pending, journal.get());
  const auto started = SteadyClock::now();
  std::vector<Outcome> all_rejected = earlier_rejected;
  Status report_status = WriteReport(report_file, all_rejected);
  if (!report_status.ok()) return ctl::Fail(kProg, report_status.WithContext("the report"));

  // SIGINT/SIGTERM reach the main thread only: the workers block them.
  g_signal = 0;
  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
  const int workers =
      pending.empty() ? 0
                      : std::min<int>(jobs, static_cast<int>((pending.size() + batch - 1) / batch));
  run.Start(workers);
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back(
        [&run, client = clients[static_cast<size_t>(i)].get()] { run.Work(*client); });
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);

  const size_t total = csv.records();
  const size_t done_before = resumed + csv.bad_lines.size();
  Progress progress(total);
  int stopped_by = 0;
  auto last_report = SteadyClock::now();
  auto elapsed = [&] { return Seconds(SteadyClock::now() - started).count(); };
  for (;;) {
    const bool finished = run.WaitWorkers(std::chrono::milliseconds(100));
    if (g_signal && !stopped_by) {
      stopped_by = g_signal;
      run.Stop();
      progress.Clear();
      std::fprintf(stderr,
                   "%s: stopping: waiting for the %d batches being sent (press Ctrl-C again to "
                   "quit at once)\n",
                   kProg, run.in_flight());
    }
    auto snap = run.Take(false);
    progress.Update(done_before + snap.rows_done, snap.rows_done, snap.photos, elapsed(), finished);
    if (snap.rejected_changed &&
        (finished || SteadyClock::now() - last_report > std::chrono::seconds(1))) {
      auto with = run.Take(true);
      all_rejected = earlier_rejected;
      all_rejected.insert(all_rejected.end(), with.rejected.begin(), with.rejected.end());
      if (Status s = WriteReport(report_file, all_rejected); !s.ok()) report_status = s;
      last_report = SteadyClock::now();
    }
    if (finished) break;
  }
  for (auto& t : threads) t.join();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  progress.Clear();

  // The final report and the summary.
  const double seconds = elapsed();
  auto snap = run.Take(true);
  all_rejected = earlier_rejected;
  all_rejected.insert(all_rejected.end(), snap.rejected.begin(), snap.rejected.end());
  if (Status s = WriteReport(report_file, all_rejected); !s.ok()) report_status = s;
  auto count = [&](const char* status) {
    auto a = snap.by_status.find(status);
    auto b = resumed_by_status.find(status);
    return (a == snap.by_status.end() ? 0 : a->second) +
           (b == resumed_by_status.end() ? 0 : b->second);
  };
  const size_t imported = count(dry_run ? "valid" : "imported") + (dry_run ? count("imported") : 0);
  const size_t skipped = count("skipped");
  const size_t rejected = all_rejected.size();
  const size_t not_sent = total - done_before - snap.rows_done;
  const double rate = seconds > 0 ? static_cast<double>(snap.photos) / seconds : 0;
  std::map<std::string, size_t> reasons;
  for (const auto& o : all_rejected) ++reasons[o.reason];
  const auto fatal = run.fatal();

  if (args.json) {
    json out = {{"rows", total},
                {"imported", imported},
                {"skipped", skipped},
                {"rejected", rejected},
                {"photos", snap.photos},
                {"seconds", std::round(seconds * 1000) / 1000},
                {"photos_per_second", std::round(rate * 10) / 10},
                {"report", report_file.string()},
                {"dry_run", dry_run},
                {"resumed", resumed},
                {"not_sent", not_sent},
                {"interrupted", stopped_by != 0},
                {"reasons", reasons}};
    if (fatal) out["error"] = fatal->message;
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%zu rows%s: %zu %s, %zu skipped (imported before), %zu rejected\n", total,
                dry_run ? " checked (dry run: nothing was written)" : "", imported,
                dry_run ? "would be imported" : "imported", skipped, rejected);
    std::printf("%zu photos sent in %.1f s (%.1f photos/s)\n", snap.photos, seconds, rate);
    if (resumed > 0) {
      std::printf("%zu rows were finished by an earlier run (%s)\n", resumed, journal_file.c_str());
    }
    if (not_sent > 0) std::printf("%zu rows not sent\n", not_sent);
    if (rejected > 0) {
      std::string list;
      for (const auto& [reason, n] : reasons) {
        list += (list.empty() ? "" : ", ") + reason + " " + std::to_string(n);
      }
      std::printf("rejected: %s; every row with its reason in %s\n", list.c_str(),
                  report_file.c_str());
    }
  }
  std::fflush(stdout);
  if (!report_status.ok()) ctl::Fail(kProg, report_status.WithContext("the report"));
  if (fatal) std::fprintf(stderr, "%s: %s\n", kProg, fatal->message.c_str());
  if (not_sent > 0 && !dry_run) {
    std::fprintf(stderr,
                 "%s: %zu rows are still to do: run the same command with --resume to "
                 "continue\n",
                 kProg, not_sent);
  }
  if (stopped_by) return 128 + stopped_by;
  if (fatal) return fatal->exit_code;
  if (!report_status.ok()) return kFailure;
  return rejected > 0 ? kFailure : kOk;
}

}  // namespace

int RunImportCommand(int argc, char** argv) { return RunImport(argc, argv); }

}  // namespace facegate::app
