#include "facegate/core/work_pool.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <exception>

namespace facegate {

WorkPool::WorkPool(std::string name, int threads, size_t max_queue)
    : name_(std::move(name)), max_queue_(max_queue < 1 ? 1 : max_queue) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i] {
      // Thread names show in top/gdb; Linux allows 15 characters.
      std::string n = (name_ + "-" + std::to_string(i)).substr(0, 15);
      pthread_setname_np(pthread_self(), n.c_str());
      Run();
    });
  }
}

WorkPool::~WorkPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool WorkPool::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

size_t WorkPool::Depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void WorkPool::Run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      // A task must not take the thread with it; the failure is a bug to see in the log.
      spdlog::error("{}: a task threw: {}", name_, e.what());
    }
  }
}

}  // namespace facegate
