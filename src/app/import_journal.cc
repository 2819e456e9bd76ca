#include "import_journal.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "facegate/core/files.h"

namespace facegate::app::import {

namespace {

constexpr std::string_view kMagic = "facegate-import-journal 1 ";
constexpr size_t kMaxJournalBytes = size_t{1} << 30;

Status ErrnoStatus(std::string_view what, const std::filesystem::path& path, int err) {
  return Status::IOError(std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

void Escape(std::string_view in, std::string* out) {
  for (char c : in) {
    switch (c) {
      case '\\':
        *out += "\\\\";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        *out += c;
    }
  }
}

std::optional<std::string> Unescape(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out += in[i];
      continue;
    }
    if (++i >= in.size()) return std::nullopt;
    switch (in[i]) {
      case '\\':
        out += '\\';
        break;
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      default:
        return std::nullopt;
    }
  }
  return out;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string ImportJournal::HeaderLine(std::string_view fingerprint) {
  return std::string(kMagic) + std::string(fingerprint) + "\n";
}

std::string ImportJournal::EncodeLine(const JournalEntry& e) {
  std::string out = std::to_string(e.line);
  out += '\t';
  Escape(e.status, &out);
  out += '\t';
  Escape(e.external_id, &out);
  out += '\t';
  Escape(e.reason, &out);
  out += '\t';
  Escape(e.message, &out);
  out += '\n';
  return out;
}

std::optional<JournalEntry> ImportJournal::DecodeLine(std::string_view line) {
  std::vector<std::string_view> f;
  while (true) {
    size_t tab = line.find('\t');
    f.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) break;
    line.remove_prefix(tab + 1);
  }
  if (f.size() != 5) return std::nullopt;
  JournalEntry e;
  auto [end, ec] = std::from_chars(f[0].data(), f[0].data() + f[0].size(), e.line);
  if (ec != std::errc() || end != f[0].data() + f[0].size() || e.line <= 0) return std::nullopt;
  auto status = Unescape(f[1]);
  auto id = Unescape(f[2]);
  auto reason = Unescape(f[3]);
  auto message = Unescape(f[4]);
  if (!status || status->empty() || !id || !reason || !message) return std::nullopt;
  e.status = std::move(*status);
  e.external_id = std::move(*id);
  e.reason = std::move(*reason);
  e.message = std::move(*message);
  return e;
}

Result<std::unique_ptr<ImportJournal>> ImportJournal::Open(const std::filesystem::path& path,
                                                           std::string_view fingerprint,
                                                           bool resume, Loaded* loaded) {
  *loaded = Loaded{};
  bool fresh = true;
  if (resume) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      auto text = ReadFile(path, kMaxJournalBytes);
      if (!text.ok()) return text.status();
      const std::string_view all = *text;
      const size_t header_end = all.find('\n');
      // No whole header line: the journal was being created when the run stopped, so it holds
      // nothing yet.
      if (header_end != std::string_view::npos) {
        const std::string_view header = all.substr(0, header_end);
        if (header.substr(0, kMagic.size()) != kMagic) {
          return Status::FailedPrecondition(path.string() +
                                            " is not a facegatectl import journal: move it away, "
                                            "or run without --resume to replace it");
        }
        if (header.substr(kMagic.size()) != fingerprint) {
          return Status::FailedPrecondition(
              path.string() +
              " was written for another version of the CSV (the file changed since): run "
              "without --resume to start over (the server skips the rows already imported)");
        }
        loaded->existed = true;
        fresh = false;
        size_t pos = header_end + 1;
        while (pos < all.size()) {
          const size_t eol = all.find('\n', pos);
          if (eol == std::string_view::npos) break;  // torn: the newline never made it
          auto entry = DecodeLine(all.substr(pos, eol - pos));
          if (!entry) break;  // garbled: trust nothing after it
          loaded->entries.push_back(std::move(*entry));
          pos = eol + 1;
        }
        loaded->dropped_bytes = all.size() - pos;
        if (loaded->dropped_bytes > 0) {
          if (::truncate(path.c_str(), static_cast<off_t>(pos)) != 0) {
            return ErrnoStatus("cannot cut the torn end off", path, errno);
          }
        }
      }
    }
  }
  if (fresh) {
    FACEGATE_RETURN_IF_ERROR(WriteFileAtomically(path, HeaderLine(fingerprint), 0600));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  if (!fresh && loaded->dropped_bytes > 0 && ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("cannot fsync", path, err);
  }
  return std::unique_ptr<ImportJournal>(new ImportJournal(path, fd));
}

ImportJournal::~ImportJournal() {
  if (fd_ >= 0) ::close(fd_);
}

Status ImportJournal::Append(const std::vector<JournalEntry>& entries) {
  if (entries.empty()) return Status::Ok();
  std::string data;
  for (const auto& e : entries) data += EncodeLine(e);
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd_, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", path_, errno);
    }
    written += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return ErrnoStatus("cannot fsync", path_, errno);
  return Status::Ok();
}

}  // namespace facegate::app::import
