#include "index/scan_pool.h"

#include <algorithm>

namespace facegate::index {
namespace {
constexpr size_t kMaxPending = 256;  // more concurrent scans than this just run unhelped
}

ScanPool::ScanPool(int helpers) {
  pending_.reserve(kMaxPending);
  for (int i = 0; i < helpers; ++i) threads_.emplace_back([this] { HelperLoop(); });
}

ScanPool::~ScanPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ScanPool::Work(Job& job, int slot) {
  for (;;) {
    const size_t chunk = job.next.fetch_add(1, std::memory_order_relaxed);
    if (chunk >= job.chunks) return;
    job.fn(job.ctx, chunk, slot);
  }
}

bool ScanPool::Withdraw(Job& job) {
  auto it = std::find(pending_.begin(), pending_.end(), &job);
  if (it == pending_.end()) return false;
  pending_.erase(it);
  return true;
}

void ScanPool::RunJob(Job& job) {
  const int helpers_wanted =
      static_cast<int>(std::min<size_t>(threads_.size(), job.chunks > 0 ? job.chunks - 1 : 0));
  bool posted = false;
  if (helpers_wanted > 0) {
    std::lock_guard lock(mu_);
    if (pending_.size() < kMaxPending) {
      job.wanted = helpers_wanted;
      pending_.push_back(&job);
      posted = true;
    }
  }
  if (posted) {
    if (helpers_wanted == 1) {
      work_cv_.notify_one();
    } else {
      work_cv_.notify_all();
    }
  }
  Work(job, 0);
  if (!posted) return;
  // No helper may join once the job is withdrawn; then wait for those inside to leave. The
  // job lives on this stack frame, so a helper touches it only while holding mu_ or while
  // `active` counts it.
  std::unique_lock lock(mu_);
  Withdraw(job);
  done_cv_.wait(lock, [&] { return job.active == 0; });
}

void ScanPool::HelperLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    Job& job = *pending_.front();
    if (--job.wanted == 0) pending_.erase(pending_.begin());
    ++job.active;
    const int slot = job.next_slot++;
    lock.unlock();
    Work(job, slot);
    lock.lock();
    if (--job.active == 0) done_cv_.notify_all();
  }
}

}  // namespace facegate::index
