#include "store/fault_vfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace facegate::store::testing {

// Our file object: SQLite allocates vfs.szOsFile bytes; the real file follows ours.
struct FaultVfs::File {
  sqlite3_file base;
  FaultVfs* vfs;
  std::string path;  // empty: not tracked (temp files)
  sqlite3_file* real;
};

namespace {

FaultVfs* Self(sqlite3_vfs* vfs) { return static_cast<FaultVfs*>(vfs->pAppData); }

std::string ReadWholeFile(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void Apply(std::string* image, bool truncate, int64_t offset, const std::string& data) {
  if (truncate) {
    image->resize(static_cast<size_t>(offset));
    return;
  }
  const size_t end = static_cast<size_t>(offset) + data.size();
  if (image->size() < end) image->resize(end);
  std::memcpy(image->data() + offset, data.data(), data.size());
}

}  // namespace

FaultVfs& FaultVfs::Get(const char* name) {
  static FaultVfs* instance = new FaultVfs(name);
  return *instance;
}

FaultVfs::FaultVfs(const char* name) {
  real_ = sqlite3_vfs_find(nullptr);
  if (real_ == nullptr) throw std::runtime_error("no default SQLite VFS");
  vfs_.iVersion = 2;
  vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
  vfs_.mxPathname = real_->mxPathname;
  vfs_.zName = name;
  vfs_.pAppData = this;
  vfs_.xOpen = &FaultVfs::Open;
  vfs_.xDelete = &FaultVfs::Delete;
  vfs_.xAccess = &FaultVfs::Access;
  vfs_.xFullPathname = &FaultVfs::FullPathname;
  vfs_.xRandomness = &FaultVfs::Randomness;
  vfs_.xSleep = &FaultVfs::Sleep;
  vfs_.xCurrentTime = &FaultVfs::CurrentTime;
  vfs_.xGetLastError = &FaultVfs::GetLastError;
  vfs_.xCurrentTimeInt64 = &FaultVfs::CurrentTimeInt64;

  methods_.iVersion = 3;
  methods_.xClose = &FaultVfs::Close;
  methods_.xRead = &FaultVfs::Read;
  methods_.xWrite = &FaultVfs::Write;
  methods_.xTruncate = &FaultVfs::Truncate;
  methods_.xSync = &FaultVfs::Sync;
  methods_.xFileSize = &FaultVfs::FileSize;
  methods_.xLock = &FaultVfs::Lock;
  methods_.xUnlock = &FaultVfs::Unlock;
  methods_.xCheckReservedLock = &FaultVfs::CheckReservedLock;
  methods_.xFileControl = &FaultVfs::FileControl;
  methods_.xSectorSize = &FaultVfs::SectorSize;
  methods_.xDeviceCharacteristics = &FaultVfs::DeviceCharacteristics;
  methods_.xShmMap = &FaultVfs::ShmMap;
  methods_.xShmLock = &FaultVfs::ShmLock;
  methods_.xShmBarrier = &FaultVfs::ShmBarrier;
  methods_.xShmUnmap = &FaultVfs::ShmUnmap;
  methods_.xFetch = &FaultVfs::Fetch;
  methods_.xUnfetch = &FaultVfs::Unfetch;

  if (sqlite3_vfs_register(&vfs_, /*makeDflt=*/0) != SQLITE_OK) {
    throw std::runtime_error("cannot register the fault VFS");
  }
}

void FaultVfs::CrashAfter(int64_t ops, Loss loss, uint32_t seed) {
  std::lock_guard lock(mu_);
  crash_at_ = operations_ + std::max<int64_t>(ops, 1);
  loss_ = loss;
  rng_.seed(seed);
}

void FaultVfs::CrashNow(Loss loss, uint32_t seed) {
  std::lock_guard lock(mu_);
  if (crashed_) return;
  loss_ = loss;
  rng_.seed(seed);
  CrashLocked();
}

bool FaultVfs::crashed() const {
  std::lock_guard lock(mu_);
  return crashed_;
}

int64_t FaultVfs::operations() const {
  std::lock_guard lock(mu_);
  return operations_;
}

void FaultVfs::Reset() {
  std::lock_guard lock(mu_);
  files_.clear();
  crashed_ = false;
  crash_at_ = -1;
  operations_ = 0;
}

void FaultVfs::CrashLocked() {
  crashed_ = true;
  crash_at_ = -1;
  for (auto& [path, state] : files_) {
    std::string image = state.durable;
    for (const Op& op : state.pending) {
      if (loss_ == Loss::kRandomUnsynced && (rng_() & 1) != 0) {
        Apply(&image, op.truncate, op.offset, op.data);
      }
    }
    // Put the file back as the disk would have it after the power came back.
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, image.data(), image.size(), 0) != static_cast<ssize_t>(image.size())) {
      ::close(fd);
      throw std::runtime_error("fault VFS: cannot restore " + path);
    }
    ::close(fd);
    state.durable = image;
    state.pending.clear();
  }
}

bool FaultVfs::TickLocked() {
  if (crashed_) return true;
  ++operations_;
  if (crash_at_ >= 0 && operations_ >= crash_at_) {
    CrashLocked();
    return true;
  }
  return false;
}

int FaultVfs::Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
                   int* out_flags) {
  FaultVfs* self = Self(vfs);
  File* f = reinterpret_cast<File*>(file);
  f->base.pMethods = nullptr;
  f->vfs = self;
  new (&f->path) std::string();
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  const bool tracked =
      name != nullptr &&
      (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL)) != 0;
  std::lock_guard lock(self->mu_);
  int rc = self->real_->xOpen(self->real_, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    f->path.~basic_string();
    return rc;
  }
  if (tracked) {
    f->path = name;
    if (self->files_.find(f->path) == self->files_.end()) {
      self->files_[f->path].durable = ReadWholeFile(f->path);
    }
  }
  f->base.pMethods = &self->methods_;
  return SQLITE_OK;
}

int FaultVfs::Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  FaultVfs* self = Self(vfs);
  std::lock_guard lock(self->mu_);
  if (self->crashed_) return SQLITE_IOERR_DELETE;
  self->files_.erase(name);
  return self->real_->xDelete(self->real_, name, sync_dir);
}

int FaultVfs::Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Self(vfs)->real_->xAccess(Self(vfs)->real_, name, flags, out);
}
int FaultVfs::FullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return Self(vfs)->real_->xFullPathname(Self(vfs)->real_, name, n, out);
}
int FaultVfs::Randomness(sqlite3_vfs* vfs, int n, char* out) {
  return Self(vfs)->real_->xRandomness(Self(vfs)->real_, n, out);
}
int FaultVfs::Sleep(sqlite3_vfs* vfs, int micros) {
  return Self(vfs)->real_->xSleep(Self(vfs)->real_, micros);
}
int FaultVfs::CurrentTime(sqlite3_vfs* vfs, double* out) {
  return Self(vfs)->real_->xCurrentTime(Self(vfs)->real_, out);
}
int FaultVfs::GetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return Self(vfs)->real_->xGetLastError(Self(vfs)->real_, n, out);
}
int FaultVfs::CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Self(vfs)->real_->xCurrentTimeInt64(Self(vfs)->real_, out);
}

int FaultVfs::Close(sqlite3_file* file) {
  File* f = reinterpret_cast<File*>(file);
  int rc = f->real->pMethods->xClose(f->real);
  f->path.~basic_string();
  return rc;
}

int FaultVfs::Read(sqlite3_file* file, void* buf, int amount, sqlite3_int64 offset) {
  File* f = reinterpret_cast<File*>(file);
  return f->real->pMethods->xRead(f->real, buf, amount, offset);
}

int FaultVfs::Write(sqlite3_file* file, const void* buf, int amount, sqlite3_int64 offset) {
  File* f = reinterpret_cast<File*>(file);
  FaultVfs* self = f->vfs;
  std::lock_guard lock(self->mu_);
  if (!f->path.empty() && self->TickLocked()) return SQLITE_IOERR_WRITE;
  int rc = f->real->pMethods->xWrite(f->real, buf, amount, offset);
  if (rc == SQLITE_OK && !f->path.empty()) {
    self->files_[f->path].pending.push_back(
        Op{false, offset, std::string(static_cast<const char*>(buf), static_cast<size_t>(amount))});
  }
  return rc;
}

int FaultVfs::Truncate(sqlite3_file* file, sqlite3_int64 size) {
  File* f = reinterpret_cast<File*>(file);
  FaultVfs* self = f->vfs;
  std::lock_guard lock(self->mu_);
  if (!f->path.empty() && self->TickLocked()) return SQLITE_IOERR_TRUNCATE;
  int rc = f->real->pMethods->xTruncate(f->real, size);
  if (rc == SQLITE_OK && !f->path.empty()) {
    self->files_[f->path].pending.push_back(Op{true, size, {}});
  }
  return rc;
}

int FaultVfs::Sync(sqlite3_file* file, int flags) {
  File* f = reinterpret_cast<File*>(file);
  FaultVfs* self = f->vfs;
  std::lock_guard lock(self->mu_);
  if (!f->path.empty() && self->TickLocked()) return SQLITE_IOERR_FSYNC;
  int rc = f->real->pMethods->xSync(f->real, flags);
  if (rc == SQLITE_OK && !f->path.empty()) {
    FileState& state = self->files_[f->path];
    for (const Op& op : state.pending) Apply(&state.durable, op.truncate, op.offset, op.data);
    state.pending.clear();
  }
  return rc;
}

int FaultVfs::FileSize(sqlite3_file* file, sqlite3_int64* size) {
  File* f = reinterpret_cast<File*>(file);
  return f->real->pMethods->xFileSize(f->real, size);
}
int FaultVfs::Lock(sqlite3_file* file, int level) {
  File* f = reinterpret_cast<File*>(file);
  return f->real->pMethods->xLock(f->real, level);
}
int FaultVfs::Unlock(sqlite3_file* file, int level) {
  File* f = reinterpret_cast<File*>(file);
  return f->real->pMethods->xUnlock(f->real, level);
}
int FaultVfs::CheckReservedLock(sqlite3_file* file, int* out) {
  File* f = reinterpret_cast<File*>(file);
  return f->real->pMethods->xCheckReservedLock(f->real, out);
}
int FaultVfs::FileControl(sqlite3_file* file, int op, void* arg) {
  File* f = reinterpret_cast<File*>(file);
  // Writes must go through xWrite: no memory-mapped writes, no "persist WAL" tricks.
  if (op == SQLITE_FCNTL_MMAP_SIZE) {
    *static_cast<sqlite3_int64*>(arg) = 0;
    return SQLITE_OK;
  }
  return f->real->pMethods->xFileControl(f->real, op, arg);
}
int FaultVfs::SectorSize(sqlite3_file* file) {
  File* f = reinterpret_cast<File*>(file);
  return f->real->pMethods->xSectorSize(f->real);
}
int FaultVfs::DeviceCharacteristics(sqlite3_file* file) {
  File* f = reinterpret_cast<File*>(file);
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}
int FaultVfs::ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  File* f = reinterpret_cast<File*>(file);
  return f->real->pMethods->xShmMap(f->real, region, size, extend, out);
}
int FaultVfs::ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  File* f = reinterpret_cast<File*>(file);
  return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}
void FaultVfs::ShmBarrier(sqlite3_file* file) {
  File* f = reinterpret_cast<File*>(file);
  f->real->pMethods->xShmBarrier(f->real);
}
int FaultVfs::ShmUnmap(sqlite3_file* file, int delete_flag) {
  File* f = reinterpret_cast<File*>(file);
  return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}
int FaultVfs::Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  // No memory-mapped reads either: SQLite falls back to xRead.
  (void)file;
  (void)offset;
  (void)amount;
  *out = nullptr;
  return SQLITE_OK;
}
int FaultVfs::Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  (void)page;
  File* f = reinterpret_cast<File*>(file);
  (void)f;
  (void)offset;
  return SQLITE_OK;
}

}  // namespace facegate::store::testing
