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

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <scatterpool/forced_unwind.hpp>
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

struct ThreadPool::Threads {
    explicit Threads(std::size_t num_workers) : workers(num_workers), errors(num_workers) {}

    std::vector<std::unique_ptr<Worker>> workers;  // index 0 unused: the caller is worker 0
    std::vector<std::exception_ptr> errors;

    std::mutex call_mutex;  // one call at a time
    Task task;              // written before a start, read by the workers after it
    std::atomic<std::size_t> pending{0};
    std::atomic<bool> stop{false};

    std::mutex done_mutex;
    std::condition_variable done_cv;
    std::atomic<bool> caller_sleeping{false};
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
      threads_(std::make_unique<Threads>(num_workers)) {
    try {
        for (std::size_t w = 1; w < num_workers; ++w) {
            threads_->workers[w] = std::make_unique<Worker>();
            threads_->workers[w]->thread = std::thread([this, w] { worker_main(w); });
        }
    } catch (...) {
        close();
        throw;
    }
}

ThreadPool::~ThreadPool() { ThreadPool::close(); }

void ThreadPool::worker_main(std::size_t index) {
    Threads& t = *threads_;
    Worker& me = *t.workers[index];
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
        if (t.stop.load(std::memory_order_acquire)) {
            break;
        }
        {
            WorkerScope scope(uid(), index);
            try {
                t.task(index);
            }
            SCATTERPOOL_PASS_FORCED_UNWIND
            catch (...) {
                t.errors[index] = std::current_exception();
            }
        }
        finish_one();
    }
    if (on_thread_exit_) {
        on_thread_exit_();
    }
}

void ThreadPool::finish_one() noexcept {
    Threads& t = *threads_;
    if (t.pending.fetch_sub(1) == 1 && t.caller_sleeping.load()) {
        // Taking the lock orders this notify after the caller's wait began.
        { std::lock_guard<std::mutex> lock(t.done_mutex); }
        t.done_cv.notify_one();
    }
}

void ThreadPool::start(std::size_t first, std::size_t last, Task task) {
    Threads& t = *threads_;
    t.task = task;
    for (auto& error : t.errors) {
        error = nullptr;
    }
    t.pending.store(last - first);
    for (std::size_t w = first; w < last; ++w) {
        Worker& worker = *t.workers[w];
        worker.ticket.fetch_add(1);
        if (worker.sleeping.load()) {
            { std::lock_guard<std::mutex> lock(worker.mutex); }
            worker.cv.notify_one();
        }
    }
}

void ThreadPool::wait_done(Poll poll) {
    Threads& t = *threads_;
    auto done = [&] { return t.pending.load(std::memory_order_acquire) == 0; };
    if (spin_until(done, spin_)) {
        return;
    }
    std::unique_lock<std::mutex> lock(t.done_mutex);
    t.caller_sleeping.store(true);
    struct Awake {
        std::atomic<bool>& flag;
        ~Awake() { flag.store(false); }
    } awake{t.caller_sleeping};
    while (!done()) {
        if (!poll) {
            t.done_cv.wait(lock, done);
            break;
        }
        if (t.done_cv.wait_for(lock, kPollInterval, done)) {
            break;
        }
        lock.unlock();
        poll();  // may throw: the call is abandoned, the workers finish on their own
        lock.lock();
    }
}

void ThreadPool::wait_idle(Poll poll) {
    if (!threads_) {
        return;  // abandoned after a fork: no thread runs anything here
    }
    wait_done(poll);
}

void ThreadPool::rethrow_first_error() {
    std::vector<std::exception_ptr>& errors = threads_->errors;
    for (auto& error : errors) {
        if (error) {
            std::exception_ptr first = std::move(error);
            for (auto& other : errors) {
                other = nullptr;
            }
            std::rethrow_exception(first);
        }
    }
}

void ThreadPool::run_all(Task task, Poll poll) {
    check_open();
    Threads& t = *threads_;
    std::lock_guard<std::mutex> lock(t.call_mutex);
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
            t.errors[0] = std::current_exception();
        }
    }
    wait_done(poll);
    rethrow_first_error();
}

void ThreadPool::run_one(std::size_t worker, Task task, Poll poll) {
    check_open();
    check_worker(worker);
    Threads& t = *threads_;
    std::lock_guard<std::mutex> lock(t.call_mutex);
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
    Threads& t = *threads_;
    std::lock_guard<std::mutex> lock(t.call_mutex);
    if (closed()) {
        return;
    }
    mark_closed();
    t.stop.store(true);
    for (std::size_t w = 1; w < t.workers.size(); ++w) {
        if (!t.workers[w]) {
            continue;
        }
        Worker& worker = *t.workers[w];
        worker.ticket.fetch_add(1);
        { std::lock_guard<std::mutex> worker_lock(worker.mutex); }
        worker.cv.notify_one();
    }
    for (std::size_t w = 1; w < t.workers.size(); ++w) {
        if (t.workers[w] && t.workers[w]->thread.joinable()) {
            t.workers[w]->thread.join();
        }
    }
    registry()->clear();
}

void ThreadPool::abandon_after_fork() noexcept {
    mark_closed();
    // In the child the threads are gone, and the mutexes and condition
    // variables are copies of the parent's in whatever state its threads had
    // them: destroying a condition variable that a thread was waiting on
    // waits for that thread (glibc), forever here. Leaked on purpose, with
    // the threads' handles (a joinable std::thread would abort when destroyed,
    // and detaching a thread that does not exist is undefined).
    (void)threads_.release();
}

}  // namespace scatterpool
