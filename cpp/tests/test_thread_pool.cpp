// scatterpool tests: what is particular to ThreadPool (threads, options, waiting, shutdown).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <scatterpool/thread_pool.hpp>

#include "check.hpp"
#include "pools.hpp"

using scatterpool::PoolClosedError;
using scatterpool::ThreadPool;
using scatterpool::ThreadPoolOptions;

TEST_CASE(thread_pool_needs_a_worker) {
    CHECK_THROWS_WITH(ThreadPool(0), std::invalid_argument, "at least 1");
}

TEST_CASE(thread_pool_of_one_runs_in_the_caller) {
    ThreadPool pool(1);
    CHECK(!pool.concurrent());
    const std::vector<std::thread::id> ids = pool.apply([](std::size_t) { return std::this_thread::get_id(); });
    CHECK(ids[0] == std::this_thread::get_id());
    CHECK_EQ(pool.apply_only(0, [](std::size_t w) { return w + 1; }), std::size_t{1});
}

TEST_CASE(thread_pool_more_workers_than_cores) {
    const std::size_t n = scatterpool::test::oversubscribed();
    ThreadPool pool(n);
    CHECK_EQ(pool.spin().count(), 0);  // spinning would only steal the others' time
    std::atomic<std::size_t> total{0};
    for (int round = 0; round < 50; ++round) {
        pool.apply([&](std::size_t w) { total.fetch_add(w); });
    }
    CHECK_EQ(total.load(), 50 * n * (n - 1) / 2);
}

TEST_CASE(thread_pool_spin_options) {
    for (long spin : {0L, 1L, 2000L}) {
        scatterpool::test::Context context("spin " + std::to_string(spin) + "us");
        ThreadPoolOptions options;
        options.spin = std::chrono::microseconds(spin);
        ThreadPool pool(3, options);
        CHECK_EQ(pool.spin().count(), spin);
        std::size_t sum = 0;
        for (int round = 0; round < 200; ++round) {
            for (std::size_t r : pool.apply([](std::size_t w) { return w; })) {
                sum += r;
            }
        }
        CHECK_EQ(sum, std::size_t{200 * 3});
    }
}

TEST_CASE(thread_pool_many_small_calls) {
    ThreadPool pool(3);
    std::vector<std::size_t> counts(3, 0);  // each worker writes only its own slot
    for (int round = 0; round < 5000; ++round) {
        pool.apply([&](std::size_t w) { ++counts[w]; });
    }
    CHECK_EQ(counts, (std::vector<std::size_t>{5000, 5000, 5000}));
}

TEST_CASE(thread_pool_runs_exit_hook_on_each_thread) {
    std::atomic<int> exits{0};
    {
        ThreadPoolOptions options;
        options.on_thread_exit = [&] { exits.fetch_add(1); };
        ThreadPool pool(4, options);
        pool.apply([](std::size_t) {});
        pool.close();
        CHECK_EQ(exits.load(), 3);  // workers 1..3; worker 0 is the caller
    }
    CHECK_EQ(exits.load(), 3);
}

TEST_CASE(thread_pool_create_and_destroy_often) {
    for (int round = 0; round < 100; ++round) {
        ThreadPool pool(3);
        if (round % 2 == 0) {
            pool.apply([](std::size_t) {});
        }
    }
}

TEST_CASE(thread_pool_poll_interrupts_the_wait) {
    ThreadPool pool(2);
    std::atomic<bool> release{false};
    std::atomic<bool> finished{false};
    // The callable must outlive the interrupted call (see Pool::run_all).
    auto slow = [&](std::size_t w) {
        if (w == 1) {
            while (!release.load()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            finished.store(true);
        }
    };
    auto interrupt = [] { throw std::runtime_error("interrupted"); };
    CHECK_THROWS_WITH(pool.run_all(slow, interrupt), std::runtime_error, "interrupted");
    CHECK(!finished.load());  // worker 1 still runs
    release.store(true);
    // the next call waits for the interrupted one, then runs
    const std::vector<std::size_t> after = pool.apply([](std::size_t w) { return w; });
    CHECK(finished.load());
    CHECK_EQ(after, (std::vector<std::size_t>{0, 1}));

    // wait_idle waits for an interrupted call and nothing else
    release.store(false);
    finished.store(false);
    CHECK_THROWS(pool.run_one(1, slow, interrupt), std::runtime_error);
    std::thread releaser([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        release.store(true);
    });
    pool.wait_idle();
    CHECK(finished.load());
    releaser.join();
}

TEST_CASE(thread_pool_close_waits_for_a_running_call) {
    ThreadPool pool(3);
    std::atomic<bool> started{false};
    std::vector<std::size_t> results;
    std::thread caller([&] {
        results = pool.apply([&](std::size_t w) {
            started.store(true);
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            return w;
        });
    });
    while (!started.load()) {
        std::this_thread::yield();
    }
    pool.close();  // waits for the call, then stops the workers
    caller.join();
    CHECK_EQ(results, (std::vector<std::size_t>{0, 1, 2}));
    CHECK(pool.closed());
    CHECK_THROWS(pool.apply([](std::size_t) {}), PoolClosedError);
}

TEST_CASE(thread_pool_closed_while_callers_wait) {
    auto pool = std::make_unique<ThreadPool>(2);
    std::atomic<int> refused{0};
    std::atomic<int> served{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 4; ++c) {
        callers.emplace_back([&] {
            for (int round = 0; round < 200; ++round) {
                try {
                    pool->apply([](std::size_t) {});
                    served.fetch_add(1);
                } catch (const PoolClosedError&) {
                    refused.fetch_add(1);
                }
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    pool->close();
    for (std::thread& caller : callers) {
        caller.join();
    }
    CHECK_EQ(refused.load() + served.load(), 800);
}

namespace {

// Forks; the child runs @p in_child, which returns its exit status, and is
// ended by SIGALRM if it hangs. Returns whether the child exited with 0.
template <class F> bool child_exits_cleanly(F in_child) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(20);
        ::_exit(in_child());  // _exit: the child only checks what the test asks, nothing at exit
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) {
        return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// In the child: the pool refuses work, and destroying it returns.
int abandon_and_destroy(std::unique_ptr<ThreadPool>& pool) {
    pool->abandon_after_fork();
    if (!pool->closed()) {
        return 2;
    }
    bool refused = false;
    try {
        pool->apply([](std::size_t) {});
    } catch (const PoolClosedError&) {
        refused = true;
    }
    if (!refused) {
        return 3;
    }
    pool->wait_idle();
    pool.reset();
    return 0;
}

}  // namespace

TEST_CASE(thread_pool_abandoned_in_a_forked_child_can_be_destroyed) {
    ThreadPoolOptions options;
    options.spin = std::chrono::microseconds(0);  // idle threads sleep on their condition variables at once
    for (int round = 0; round < 3; ++round) {
        // the workers idle, asleep or about to be
        auto pool = std::make_unique<ThreadPool>(3, options);
        pool->apply([](std::size_t) {});
        CHECK(child_exits_cleanly([&] { return abandon_and_destroy(pool); }));
        CHECK_EQ(pool->apply([](std::size_t w) { return w; }), (std::vector<std::size_t>{0, 1, 2}));

        // a call in progress: worker 1 runs, its caller waits for it
        std::atomic<bool> entered{false};
        std::atomic<bool> release{false};
        std::thread caller([&] {
            pool->run_one(1, [&](std::size_t) {
                entered.store(true);
                while (!release.load()) {
                    std::this_thread::yield();
                }
            });
        });
        while (!entered.load()) {
            std::this_thread::yield();
        }
        CHECK(child_exits_cleanly([&] { return abandon_and_destroy(pool); }));
        release.store(true);
        caller.join();
        pool->close();
    }
}
