// FaultVfs: a SQLite VFS for tests that wraps the default one and simulates power loss.
//
// The idea of leveldb's fault_injection_test: every write and truncate of the main database,
// its rollback journal and its WAL reaches the real file at once (so reads see it), but is
// also remembered as "not yet synced" until xSync on that file. Crash() puts each file back
// to what the last sync made durable, optionally keeping a random subset of the unsynced
// writes (the disk may have written some of them, in any order), and from then on every
// write, sync, truncate and delete fails with an I/O error, as if the machine had stopped:
// nothing more reaches the files while the test closes its connections. Reset() ends the
// crash so the files can be opened again, as after a reboot.
// A crash can also be armed to happen inside the N-th write/sync/truncate from now, which
// lands it in the middle of a commit or a checkpoint.
// Creating and deleting files counts as durable at once (SQLite syncs the directory for the
// files where that matters). The -shm file is not tracked: its content is rebuilt from the
// WAL after a crash, and SQLite never relies on it surviving one.
// Thread-safety: all methods and the VFS callbacks are serialised by one mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace facegate::store::testing {

class FaultVfs {
 public:
  enum class Loss {
    kAllUnsynced,     // every unsynced write is lost
    kRandomUnsynced,  // each unsynced write is lost or kept at random
  };

  // Registers the VFS under `name` (not as the default). Never unregistered: one per process.
  static FaultVfs& Get(const char* name = "facegate-fault");

  const char* name() const { return vfs_.zName; }

  // Crashes inside the `ops`-th write/sync/truncate from now (1 = the next one).
  void CrashAfter(int64_t ops, Loss loss, uint32_t seed);
  // Crashes now.
  void CrashNow(Loss loss, uint32_t seed);
  bool crashed() const;
  // Forgets every file's state and ends the crash.
  void Reset();
  // Writes, syncs and truncates seen since the last Reset.
  int64_t operations() const;

 private:
  struct Op {
    bool truncate = false;
    int64_t offset = 0;  // write offset, or the size to truncate to
    std::string data;
  };
  struct FileState {
    std::string durable;  // the content as of the last sync
    std::vector<Op> pending;
  };
  struct File;

  FaultVfs(const char* name);
  void CrashLocked();
  // Counts one operation; true when it crashed (now or before): the caller fails the call.
  bool TickLocked();

  static int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
                  int* out_flags);
  static int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir);
  static int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out);
  static int FullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out);
  static int Randomness(sqlite3_vfs* vfs, int n, char* out);
  static int Sleep(sqlite3_vfs* vfs, int micros);
  static int CurrentTime(sqlite3_vfs* vfs, double* out);
  static int GetLastError(sqlite3_vfs* vfs, int n, char* out);
  static int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out);

  static int Close(sqlite3_file* file);
  static int Read(sqlite3_file* file, void* buf, int amount, sqlite3_int64 offset);
  static int Write(sqlite3_file* file, const void* buf, int amount, sqlite3_int64 offset);
  static int Truncate(sqlite3_file* file, sqlite3_int64 size);
  static int Sync(sqlite3_file* file, int flags);
  static int FileSize(sqlite3_file* file, sqlite3_int64* size);
  static int Lock(sqlite3_file* file, int level);
  static int Unlock(sqlite3_file* file, int level);
  static int CheckReservedLock(sqlite3_file* file, int* out);
  static int FileControl(sqlite3_file* file, int op, void* arg);
  static int SectorSize(sqlite3_file* file);
  static int DeviceCharacteristics(sqlite3_file* file);
  static int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out);
  static int ShmLock(sqlite3_file* file, int offset, int n, int flags);
  static void ShmBarrier(sqlite3_file* file);
  static int ShmUnmap(sqlite3_file* file, int delete_flag);
  static int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out);
  static int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page);

  sqlite3_vfs vfs_{};
  sqlite3_vfs* real_ = nullptr;
  sqlite3_io_methods methods_{};

  mutable std::mutex mu_;
  std::map<std::string, FileState> files_;
  int64_t operations_ = 0;
  int64_t crash_at_ = -1;  // operations_ value at which to crash; -1: not armed
  Loss loss_ = Loss::kAllUnsynced;
  std::mt19937 rng_;
  bool crashed_ = false;
};

}  // namespace facegate::store::testing
