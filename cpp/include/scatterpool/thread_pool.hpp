// scatterpool: ThreadPool, persistent worker threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include <scatterpool/pool.hpp>

namespace scatterpool {

/// @brief Settings of a ThreadPool.
struct ThreadPoolOptions {
    /// @brief How long an idle thread polls for work before it sleeps, and a
    /// caller polls for the result before it sleeps. Waking a sleeping thread
    /// on another CPU costs tens of microseconds on a VM; a short spin keeps
    /// back-to-back calls fast. Negative: 50 µs when the threads fit on the
    /// CPUs, 0 when they do not (spinning then only steals their time).
    std::chrono::microseconds spin{-1};
    /// @brief Runs on each worker thread just before it ends (the Python
    /// bindings release that thread's interpreter state there).
    std::function<void()> on_thread_exit;
};

/// @brief `size` workers on persistent threads: worker 0 is the calling
/// thread, which runs its share of every call while it waits, and workers
/// 1..size-1 are threads created once and joined by close().
///
/// Calls from several threads are served one at a time. Dispatch allocates
/// nothing. A task runs with worker_context() set to its worker.
class ThreadPool final : public Pool {
public:
    /// @throws std::invalid_argument if @p num_workers == 0.
    explicit ThreadPool(std::size_t num_workers, ThreadPoolOptions options = {});
    ~ThreadPool() override;

    bool concurrent() const noexcept override { return size() > 1; }
    void run_all(Task task, Poll poll = {}) override;
    void run_one(std::size_t worker, Task task, Poll poll = {}) override;
    /// @brief Waits until no task of an earlier, interrupted call runs.
    void wait_idle(Poll poll = {});
    void close() override;

    /// @brief For the child of a fork(): the worker threads do not exist
    /// there, so mark the pool closed and forget them without joining. Their
    /// mutexes and condition variables are left as they are, never destroyed
    /// (they may be held, or waited on, by threads that are gone: destroying
    /// them could wait forever). The registry is left alone (its lock may have
    /// been held at the fork).
    void abandon_after_fork() noexcept;

    /// @brief The spin time in force.
    std::chrono::microseconds spin() const noexcept { return spin_; }

private:
    struct Worker;
    struct Threads;
    void worker_main(std::size_t index);
    void start(std::size_t first, std::size_t last, Task task);
    void wait_done(Poll poll);
    void finish_one() noexcept;
    void rethrow_first_error();

    std::chrono::microseconds spin_;
    std::function<void()> on_thread_exit_;
    // The threads and everything they share with callers; after
    // abandon_after_fork() it is left behind, never destroyed.
    std::unique_ptr<Threads> threads_;
};

}  // namespace scatterpool
