// WorkPool: a fixed set of threads running blocking work (database calls, certificate
// signing) handed over by the network I/O threads, which must never block.
//
// The queue is bounded: Post refuses work (returns false) when it is full or the pool is
// stopping, so an overload is answered at once instead of growing memory. Tasks run in the
// order posted. The destructor stops taking work, runs what is queued and joins.
// Thread-safety: Post and Depth may be called from any thread, including pool threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace facegate {

class WorkPool {
 public:
  // `threads` >= 1; `max_queue` >= 1 tasks waiting (running ones not counted).
  WorkPool(std::string name, int threads, size_t max_queue);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `task`; false when the queue is full or the pool is stopping (task not run).
  bool Post(std::function<void()> task);
  size_t Depth() const;

 private:
  void Run();

  const std::string name_;
  const size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace facegate
