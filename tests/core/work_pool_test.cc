// WorkPool: every posted task runs once, in order on one thread; a full queue refuses at once;
// the destructor runs what was queued.
#include "facegate/core/work_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <vector>

namespace facegate {
namespace {

TEST(WorkPoolTest, RunsEveryTaskInOrderOnOneThread) {
  std::vector<int> seen;
  {
    WorkPool pool("test", 1, 1000);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(pool.Post([&seen, i] { seen.push_back(i); }));
  }  // the destructor drains
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
}

TEST(WorkPoolTest, AFullQueueRefusesAtOnce) {
  WorkPool pool("test", 1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  ASSERT_TRUE(pool.Post([gate, &started] {
    started.set_value();
    gate.wait();
  }));
  started.get_future().wait();  // the worker is busy: the next two wait in the queue
  EXPECT_TRUE(pool.Post([] {}));
  EXPECT_TRUE(pool.Post([] {}));
  EXPECT_EQ(pool.Depth(), 2u);
  EXPECT_FALSE(pool.Post([] {}));
  release.set_value();
}

TEST(WorkPoolTest, ATaskThatThrowsDoesNotStopThePool) {
  std::atomic<int> ran{0};
  {
    WorkPool pool("test", 2, 10);
    ASSERT_TRUE(pool.Post([] { throw std::runtime_error("boom"); }));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.Post([&ran] { ran.fetch_add(1); }));
  }
  EXPECT_EQ(ran.load(), 5);
}

}  // namespace
}  // namespace facegate
