// ScanPool: helper threads that join a scan by taking chunks of rows from it.
//
// A scan never waits in a queue: the calling thread works through the chunks itself, and any
// helper that is free joins it and takes chunks too. When the chunks run out the caller waits
// only for helpers that are in the middle of one of its chunks. Concurrent scans share the
// helpers first come, first served. Thread-safe. The queue mutex is held only to post, take or
// withdraw a scan (a few instructions), never while a chunk runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace facegate::index {

class ScanPool {
 public:
  explicit ScanPool(int helpers);
  ~ScanPool();
  ScanPool(const ScanPool&) = delete;
  ScanPool& operator=(const ScanPool&) = delete;

  int helpers() const { return static_cast<int>(threads_.size()); }

  // Calls body(chunk, slot) for every chunk in [0, chunks), on the calling thread (slot 0) and on
  // up to helpers() pool threads (slots 1..helpers()); each slot is used by one thread at a time.
  template <typename Body>
  void Run(size_t chunks, Body& body) {
    Job job;
    job.fn = [](void* ctx, size_t chunk, int slot) { (*static_cast<Body*>(ctx))(chunk, slot); };
    job.ctx = &body;
    job.chunks = chunks;
    RunJob(job);
  }

 private:
  struct Job {
    void (*fn)(void*, size_t, int) = nullptr;
    void* ctx = nullptr;
    size_t chunks = 0;
    std::atomic<size_t> next{0};
    int next_slot = 1;  // guarded by mu_
    int wanted = 0;     // helpers that may still join; guarded by mu_
    int active = 0;     // helpers inside; guarded by mu_
  };

  void RunJob(Job& job);
  void Work(Job& job, int slot);
  void HelperLoop();
  bool Withdraw(Job& job);  // requires mu_

  std::mutex mu_;
  std::condition_variable work_cv_;  // a job was posted, or stopping
  std::condition_variable done_cv_;  // a helper left a job
  std::vector<Job*> pending_;        // capacity reserved once: posting never allocates
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace facegate::index
