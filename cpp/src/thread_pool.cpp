// scatterpool: ThreadPool, persistent worker threads.
//
// Hand-off protocol. Each worker thread has a ticket; the caller stores the
// task, sets pending_ to the number of threads it starts, and bumps their
// tickets. A thread whose ticket changed runs the task and decrements
// pending_; the caller runs worker 0's share itself and then waits for
// pending_ to reach 0. Both sides poll for spin_ before they sleep on a
// condition variable, and a side about to sleep announces it first
// (sleeping / caller_sleeping_), so the other side notifies only sleepers:
// with sequentially consistent atomics, either the waker sees the announcement
// or the sleeper sees the change before it waits.
#include <scatterpool/thread_pool.hpp>

#include <string>
#include <thread>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
// pthread_exit and thread cancellation unwind the stack with a special
// exception that must not be swallowed (glibc aborts if it is).
#define SCATTERPOOL_PASS_FORCED_UNWIND \
    catch (abi::__forced_unwind&) {    \
        throw;                         \
    }
#else
#define SCATTERPOOL_PASS_FORCED_UNWIND
#endif

#include <scatterpool/worker_context.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SCATTERPOOL_CPU_RELAX() _mm_pause()
#else
#define SCATTERPOOL_CPU_RELAX() std::this_thread::yield()
#endif

namespace scatterpool {

struct ThreadPool::Worker {
    alignas(64) std::atomic<std::uint32_t> ticket{0};
    std::atomic<bool> sleeping{false};
    std::mutex mutex;
    std::condition_variable cv;
    std::thread thread;
};

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::microseconds default_spin(std::size_t num_workers, std::chrono::microseconds requested) {
    if (requested.count() >= 0) {
        return requested;
    }
    const unsigned cpus = std::thread::hardware_concurrency();
    return (cpus != 0 && num_workers <= cpus) ? std::chrono::microseconds(50) : std::chrono::microseconds(0);
}

// Polls pred until it holds or spin has passed; true if it holds.
template <class Pred> bool spin_until(Pred pred, std::chrono::microseconds spin) {
    if (pred()) {
        return true;
    }
    if (spin.count() == 0) {
        return false;
    }
    const auto deadline = Clock::now() + spin;
    for (;;) {
        for (int i = 0; i < 64; ++i) {
            if (pred()) {
                return true;
            }
            SCATTERPOOL_CPU_RELAX();
        }
        if (Clock::now() >= deadline) {
            return pred();
        }
        // Let another thread on this CPU run: when the machine is busy, the
        // thread we wait for may be waiting for this very CPU.
        std::this_thread::yield();
    }
}

constexpr auto kPollInterval = std::chrono::milliseconds(2);

}  // namespace

ThreadPool::ThreadPool(std::size_t num_workers, ThreadPoolOptions options)
    : Pool(num_workers),
      spin_(default_spin(num_workers, options.spin)),
      on_thread_exit_(std::move(options.on_thread_exit)),
      errors_(num_workers) {
    workers_.resize(num_workers);
    try {
        for (std::size_t w = 1; w < num_workers; ++w) {
            workers_[w] = std::make_unique<Worker>();
            workers_[w]->thread = std::thread([this, w] { worker_main(w); });
        }
    } catch (...) {
        close();
        throw;
    }
}

ThreadPool::~ThreadPool() { ThreadPool::close(); }

void ThreadPool::worker_main(std::size_t index) {
    Worker& me = *workers_[index];
    std::uint32_t seen = 0;
    for (;;) {
        auto changed = [&] { return me.ticket.load(std::memory_order_acquire) != seen; };
        if (!spin_until(changed, spin_)) {
            std::unique_lock<std::mutex> lock(me.mutex);
            me.sleeping.store(true);
            me.cv.wait(lock, changed);
            me.sleeping.store(false);
        }
        seen = me.ticket.load(std::memory_order_acquire);
        if (stop_.load(std::memory_order_acquire)) {
            break;
        }
        {
            WorkerScope scope(uid(), index);
            try {
                task_(index);
            }
            SCATTERPOOL_PASS_FORCED_UNWIND
            catch (...) {
                errors_[index] = std::current_exception();
            }
        }
        finish_one();
    }
    if (on_thread_exit_) {
        on_thread_exit_();
    }
}

void ThreadPool::finish_one() noexcept {
    if (pending_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
        // Taking the lock orders this notify after the caller's wait began.
        { std::lock_guard<std::mutex> lock(done_mutex_); }
        done_cv_.notify_one();
    }
}

void ThreadPool::start(std::size_t first, std::size_t last, Task task) {
    task_ = task;
    for (auto& error : errors_) {
        error = nullptr;
    }
    pending_.store(last - first);
    for (std::size_t w = first; w < last; ++w) {
        Worker& worker = *workers_[w];
        worker.ticket.fetch_add(1);
        if (worker.sleeping.load()) {
            { std::lock_guard<std::mutex> lock(worker.mutex); }
            worker.cv.notify_one();
        }
    }
}

void ThreadPool::wait_done(Poll poll) {
    auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
    if (spin_until(done, spin_)) {
        return;
    }
    std::unique_lock<std::mutex> lock(done_mutex_);
    caller_sleeping_.store(true);
    struct Awake {
        std::atomic<bool>& flag;
        ~Awake() { flag.store(false); }
    } awake{caller_sleeping_};
    while (!done()) {
        if (!poll) {
            done_cv_.wait(lock, done);
            break;
        }
        if (done_cv_.wait_for(lock, kPollInterval, done)) {
            break;
        }
        lock.unlock();
        poll();  // may throw: the call is abandoned, the workers finish on their own
        lock.lock();
    }
}

void ThreadPool::wait_idle(Poll poll) { wait_done(poll); }

void ThreadPool::rethrow_first_error() {
    for (auto& error : errors_) {
        if (error) {
            std::exception_ptr first = std::move(error);
            for (auto& other : errors_) {
                other = nullptr;
            }
            std::rethrow_exception(first);
        }
    }
}

void ThreadPool::run_all(Task task, Poll poll) {
    check_open();
    std::lock_guard<std::mutex> lock(call_mutex_);
    if (closed()) {
        throw PoolClosedError("the pool is closed");
    }
    wait_done(poll);  // an interrupted earlier call may still run
    start(1, size(), task);
    {
        WorkerScope scope(uid(), 0);
        try {
            task(0);
        }
        SCATTERPOOL_PASS_FORCED_UNWIND
        catch (...) {
            errors_[0] = std::current_exception();
        }
    }
    wait_done(poll);
    rethrow_first_error();
}

void ThreadPool::run_one(std::size_t worker, Task task, Poll poll) {
    check_open();
    check_worker(worker);
    std::lock_guard<std::mutex> lock(call_mutex_);
    if (closed()) {
        throw PoolClosedError("the pool is closed");
    }
    wait_done(poll);
    if (worker == 0) {
        WorkerScope scope(uid(), 0);
        task(0);
        return;
    }
    start(worker, worker + 1, task);
    wait_done(poll);
    rethrow_first_error();
}

void ThreadPool::close() {
    if (in_task()) {
        throw ReentrantCallError("a pool cannot be closed from inside one of its own tasks");
    }
    if (closed()) {
        return;  // before the lock: after abandon_after_fork() it may be held by a thread that is gone
    }
    std::lock_guard<std::mutex> lock(call_mutex_);
    if (closed()) {
        return;
    }
    mark_closed();
    stop_.store(true);
    for (std::size_t w = 1; w < workers_.size(); ++w) {
        if (!workers_[w]) {
            continue;
        }
        Worker& worker = *workers_[w];
        worker.ticket.fetch_add(1);
        { std::lock_guard<std::mutex> worker_lock(worker.mutex); }
        worker.cv.notify_one();
    }
    for (std::size_t w = 1; w < workers_.size(); ++w) {
        if (workers_[w] && workers_[w]->thread.joinable()) {
            workers_[w]->thread.join();
        }
    }
    registry()->clear();
}

void ThreadPool::abandon_after_fork() noexcept {
    mark_closed();
    stop_.store(true);
    for (auto& worker : workers_) {
        if (worker && worker->thread.joinable()) {
            worker->thread.detach();
        }
    }
}

}  // namespace scatterpool
