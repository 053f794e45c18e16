#pragma once
// The queue in front of a store's single writer thread: callers submit jobs from any thread; the
// thread takes everything pending (at most max_batch) and hands it to the store as one batch, so
// that one commit covers whatever accumulated while the previous one was being made durable
// (group commit). Shared by store/rocksdb and store/postgres.
//
// With a `tick`, the thread also wakes after that long without a job and hands the store an empty
// batch, so that work a store defers (RocksStore's last_seen writes) is done while no job comes.
//
// Owned by its writer, as the writer's last member (its thread starts in the constructor and may
// use everything declared before it). Thread-safe; drain() is idempotent but must not be called
// from the batch handler (it joins the thread).
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/burst.h"

namespace chat::store {

template <typename Job>
class BatchingQueue {
 public:
  using BatchHandler = std::function<void(std::vector<Job>&)>;
  // Answers a job that arrives after drain(), on the submitting thread.
  using Refusal = std::function<void(Job&)>;

  BatchingQueue(std::size_t max_batch, std::string thread_name, BatchHandler run_batch,
                Refusal refuse, std::chrono::milliseconds tick = {})
      : max_batch_(std::max<std::size_t>(max_batch, 1)),
        run_batch_(std::move(run_batch)),
        refuse_(std::move(refuse)),
        tick_(tick),
        thread_([this, name = std::move(thread_name)] {
          pthread_setname_np(pthread_self(), name.c_str());  // visible in top -H, perf, gdb
          run();
        }) {}
  ~BatchingQueue() { drain(); }
  BatchingQueue(const BatchingQueue&) = delete;
  BatchingQueue& operator=(const BatchingQueue&) = delete;

  void submit(Job job) {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queue_.push_back(std::move(job));
        wake_.notify_one();
        return;
      }
    }
    refuse_(job);  // outside the lock: the callback may call back into the store
  }

  // Runs every batch accepted so far, then stops the thread. Later jobs are refused.
  void drain() {
    std::call_once(drain_once_, [this] {
      {
        std::lock_guard lock(mu_);
        stopping_ = true;
      }
      wake_.notify_one();
      thread_.join();
    });
  }

 private:
  void run() {
    std::vector<Job> batch;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        const auto ready = [this] { return !queue_.empty() || stopping_; };
        if (tick_.count() > 0) {
          wake_.wait_for(lock, tick_, ready);
        } else {
          wake_.wait(lock, ready);
        }
        if (queue_.empty() && stopping_) return;  // everything accepted has been answered
        const auto n = static_cast<std::ptrdiff_t>(std::min(queue_.size(), max_batch_));
        batch.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + n));
        queue_.erase(queue_.begin(), queue_.begin() + n);
      }
      {
        // What the batch's callbacks hand to other threads goes over once, after the batch.
        burst::Scope burst;
        run_batch_(batch);
      }
      batch.clear();
    }
  }

  const std::size_t max_batch_;
  const BatchHandler run_batch_;
  const Refusal refuse_;
  const std::chrono::milliseconds tick_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> queue_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::once_flag drain_once_;
  std::thread thread_;  // last, so that it starts after everything above exists
};

}  // namespace chat::store
