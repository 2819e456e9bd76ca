#include "ctl_output.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace facegate::app::ctl {

ExportOutput::ExportOutput(const ApiCommand& c) : file_(c.args.Value("--output")) {}

ExportOutput::~ExportOutput() {
  if (f_ != nullptr && f_ != stdout) {
    std::fclose(f_);
    std::error_code ec;
    std::filesystem::remove(Partial(), ec);
  }
}

Status ExportOutput::Open() {
  if (!file_) {
    f_ = stdout;
    return Status::Ok();
  }
  f_ = std::fopen(Partial().c_str(), "w");
  if (!f_) return Status::Internal("cannot write " + Partial() + ": " + std::strerror(errno));
  std::error_code ec;
  std::filesystem::permissions(
      Partial(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  if (ec) {
    return Status::Internal("cannot make " + Partial() + " private (mode 0600): " + ec.message());
  }
  return Status::Ok();
}

Status ExportOutput::Write(std::string_view piece) {
  if (std::fwrite(piece.data(), 1, piece.size(), f_) != piece.size()) {
    return Status::Internal("cannot write " + (file_ ? Partial() : std::string("stdout")) + ": " +
                            std::strerror(errno));
  }
  return Status::Ok();
}

Status ExportOutput::Commit() {
  if (f_ == stdout) {
    f_ = nullptr;
    return std::fflush(stdout) == 0 ? Status::Ok() : Status::Internal("cannot write stdout");
  }
  std::FILE* f = f_;
  f_ = nullptr;
  const bool flushed = std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (std::fclose(f) != 0 || !flushed) {
    std::error_code ec;
    std::filesystem::remove(Partial(), ec);
    return Status::Internal("cannot write " + *file_);
  }
  std::error_code ec;
  std::filesystem::rename(Partial(), *file_, ec);
  if (ec) {
    return Status::Internal("cannot rename " + Partial() + " to " + *file_ + ": " + ec.message());
  }
  return Status::Ok();
}

int Output(const ApiCommand& c, const std::string& text) {
  ExportOutput out(c);
  Status s = out.Open();
  if (s.ok()) s = out.Write(text);
  if (s.ok()) s = out.Commit();
  return s.ok() ? kOk : Fail(c.prog, s);
}

int Download(ApiCommand& c, const std::string& path, uint64_t* bytes) {
  ExportOutput out(c);
  if (Status s = out.Open(); !s.ok()) return Fail(c.prog, s);
  uint64_t n = 0;
  auto r = c.client->Download(path, [&](std::string_view piece) {
    n += piece.size();
    return out.Write(piece);
  });
  if (!r.ok()) return FailRequest(c.prog, r.status());
  if (!r->ok()) return FailResponse(c.prog, *r);
  if (Status s = out.Commit(); !s.ok()) return Fail(c.prog, s);
  if (bytes) *bytes = n;
  return kOk;
}

}  // namespace facegate::app::ctl
