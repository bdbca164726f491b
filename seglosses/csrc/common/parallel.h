// Independent tasks on a few threads, for the parts of one call that do not depend on each other
// (the images of a matching, the dimensions of a barcode). The calling thread works too.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/types.h"

namespace seglosses {

// Threads pay off for images from about this size (a thread start costs tens of microseconds; a 2D
// matching of 128^2 takes about a millisecond).
constexpr index_t kMinPixelsForThreads = index_t(1) << 16;

// Runs every task once on up to `threads` threads, taking them in the given order (put the longest
// first); rethrows the first exception after all have stopped. threads <= 1: in order, on this thread.
inline void run_tasks(int threads, const std::vector<std::function<void()>>& tasks) {
  const std::size_t workers = std::min<std::size_t>(std::size_t(std::max(threads, 1)), tasks.size());
  if (workers <= 1) {
    for (const auto& task : tasks) task();
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < tasks.size();) {
      try {
        tasks[i]();
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (std::size_t t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (error) std::rethrow_exception(error);
}

// Runs body(t, first, last) for the `slices` consecutive slices t of [0, n), each on a thread of its own
// (one slice: on this thread). For the parts of a call that split one array: slices write disjoint entries.
template <class Body>
void for_each_slice(std::size_t n, std::size_t slices, Body&& body) {
  if (slices <= 1) {
    body(std::size_t(0), std::size_t(0), n);
    return;
  }
  std::vector<std::function<void()>> tasks;
  for (std::size_t t = 0; t < slices; ++t)
    tasks.emplace_back([&body, n, t, slices] { body(t, n * t / slices, n * (t + 1) / slices); });
  run_tasks(int(slices), tasks);
}

}  // namespace seglosses
