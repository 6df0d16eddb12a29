// scatterpool tests: the cache of large freed buffers, alone and behind allocate_buffer.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include <atomic>
#include <condition_variable>
#include <mutex>
#endif

#include <scatterpool/buffer.hpp>
#include <scatterpool/buffer_cache.hpp>
#include <scatterpool/vector_array.hpp>

#include "check.hpp"

using scatterpool::BufferCache;
using Clock = BufferCache::Clock;

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

// A clock that moves only when told to.
struct ManualClock {
    std::shared_ptr<Clock::time_point> t = std::make_shared<Clock::time_point>();
    void advance(Clock::duration d) const { *t += d; }
    std::function<Clock::time_point()> function() const {
        return [t = t] { return *t; };
    }
};

BufferCache::Block block(std::size_t bytes) { return {std::malloc(bytes), bytes}; }

// Puts the process's cache back as it was when the test ends.
class RestoreGlobalCache {
public:
    RestoreGlobalCache() : max_(scatterpool::buffer_cache().stats().max_bytes) {}
    ~RestoreGlobalCache() { scatterpool::buffer_cache().set_max_bytes(max_); }
    RestoreGlobalCache(const RestoreGlobalCache&) = delete;
    RestoreGlobalCache& operator=(const RestoreGlobalCache&) = delete;

private:
    std::size_t max_;
};

bool all_bytes(const void* data, std::size_t bytes, unsigned char value) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) {
        if (p[i] != value) {
            return false;
        }
    }
    return true;
}

}  // namespace

TEST_CASE(buffer_cache_reuses_a_freed_buffer_of_the_same_size) {
    BufferCache cache(64 * MiB);
    const BufferCache::Block b = block(4 * MiB);
    cache.give(b);
    CHECK_EQ(cache.stats().held_bytes, 4 * MiB);
    CHECK_EQ(cache.stats().held_buffers, std::size_t{1});

    const BufferCache::Block again = cache.take(4 * MiB);
    CHECK(again.data == b.data);
    CHECK_EQ(again.capacity, 4 * MiB);
    CHECK_EQ(cache.stats().held_bytes, std::size_t{0});
    CHECK_EQ(cache.stats().hits, std::uint64_t{1});
    CHECK_EQ(cache.stats().misses, std::uint64_t{0});

    CHECK(cache.take(4 * MiB).data == nullptr);  // it was taken: nothing left
    CHECK_EQ(cache.stats().misses, std::uint64_t{1});
    cache.give(again);
}

TEST_CASE(buffer_cache_reuses_within_an_eighth_best_fit_first) {
    BufferCache cache(64 * MiB);
    const BufferCache::Block large = block(9 * MiB);
    const BufferCache::Block exact = block(8 * MiB);
    cache.give(exact);
    cache.give(large);
    CHECK(cache.take(10 * MiB).data == nullptr);      // larger than any held
    CHECK(cache.take(15 * MiB / 2).data == exact.data);  // 8 MiB <= 7.5 + 7.5/8 MiB: the smallest that fits
    CHECK(cache.take(15 * MiB / 2).data == nullptr);     // 9 MiB would waste more than 1/8 of 7.5 MiB
    const BufferCache::Block got = cache.take(8 * MiB);
    CHECK(got.data == large.data);
    CHECK_EQ(got.capacity, 9 * MiB);
    std::free(exact.data);
    cache.give(got);
}

TEST_CASE(buffer_cache_holds_no_small_buffers) {
    BufferCache cache(64 * MiB);
    cache.give(block(BufferCache::kMinBytes - 1));  // freed at once (ASan would report a leak)
    CHECK_EQ(cache.stats().held_buffers, std::size_t{0});
    CHECK(cache.take(BufferCache::kMinBytes - 1).data == nullptr);
    CHECK_EQ(cache.stats().misses, std::uint64_t{0});  // not a size it holds: no miss either
}

TEST_CASE(buffer_cache_never_holds_more_than_its_cap) {
    BufferCache cache(10 * MiB);
    const BufferCache::Block first = block(4 * MiB);
    const BufferCache::Block second = block(4 * MiB);
    const BufferCache::Block third = block(4 * MiB);
    cache.give(first);
    cache.give(second);
    CHECK_EQ(cache.stats().held_bytes, 8 * MiB);
    cache.give(third);  // 12 MiB > 10 MiB: the oldest goes
    CHECK_EQ(cache.stats().held_bytes, 8 * MiB);
    CHECK_EQ(cache.stats().held_buffers, std::size_t{2});
    const BufferCache::Block a = cache.take(4 * MiB);
    const BufferCache::Block b = cache.take(4 * MiB);
    CHECK(a.data != first.data && b.data != first.data);
    CHECK(cache.take(4 * MiB).data == nullptr);

    cache.give(block(11 * MiB));  // larger than the cap: freed, nothing evicted
    CHECK_EQ(cache.stats().held_bytes, std::size_t{0});
    cache.give(a);
    cache.give(b);
    cache.set_max_bytes(5 * MiB);  // a lower cap frees down to it, oldest first
    CHECK_EQ(cache.stats().held_bytes, 4 * MiB);
    CHECK(cache.take(4 * MiB).data == b.data);
    cache.give(b);
}

TEST_CASE(buffer_cache_off_at_zero_frees_what_it_holds) {
    BufferCache cache(64 * MiB);
    cache.give(block(2 * MiB));
    cache.give(block(3 * MiB));
    cache.set_max_bytes(0);
    CHECK_EQ(cache.stats().held_bytes, std::size_t{0});
    CHECK_EQ(cache.stats().held_buffers, std::size_t{0});
    cache.give(block(2 * MiB));  // off: freed at once
    CHECK_EQ(cache.stats().held_buffers, std::size_t{0});
    CHECK(cache.take(2 * MiB).data == nullptr);
}

TEST_CASE(buffer_cache_frees_idle_buffers_at_the_next_operation) {
    const ManualClock clock;
    BufferCache cache(64 * MiB, std::chrono::seconds(10), clock.function());
    cache.give(block(2 * MiB));
    clock.advance(std::chrono::seconds(6));
    cache.give(block(3 * MiB));
    clock.advance(std::chrono::seconds(5));  // the first idle 11 s, the second 5 s
    CHECK_EQ(cache.stats().held_bytes, 5 * MiB);  // stats frees nothing
    CHECK(cache.take(8 * MiB).data == nullptr);  // any operation trims
    CHECK_EQ(cache.stats().held_bytes, 3 * MiB);
    CHECK_EQ(cache.stats().idle_seconds, 10.0);

    cache.trim(std::chrono::seconds(6));  // held 5 s: stays
    CHECK_EQ(cache.stats().held_buffers, std::size_t{1});
    cache.trim(std::chrono::seconds(5));  // held exactly 5 s: goes
    CHECK_EQ(cache.stats().held_buffers, std::size_t{0});

    cache.give(block(2 * MiB));
    cache.trim();  // no age given: everything goes, even what was given this instant
    CHECK_EQ(cache.stats().held_bytes, std::size_t{0});

    cache.give(block(2 * MiB));
    clock.advance(std::chrono::seconds(2));
    cache.set_idle(std::chrono::seconds(1));  // a shorter idle time applies at once
    CHECK_EQ(cache.stats().held_bytes, std::size_t{0});
}

TEST_CASE(buffer_cache_behind_allocate_buffer_reuses_and_zeroes) {
    const RestoreGlobalCache restore;
    BufferCache& cache = scatterpool::buffer_cache();
    cache.set_max_bytes(0);
    cache.set_max_bytes(64 * MiB);
    const auto before = cache.stats();

    void* first = nullptr;
    {
        auto buffer = scatterpool::allocate_buffer(3 * MiB, false);
        first = buffer.get();
        std::memset(first, 0xAB, 3 * MiB);
        CHECK_EQ(cache.stats().misses, before.misses + 1);
    }  // the last owner lets go: held
    CHECK_EQ(cache.stats().held_bytes, 3 * MiB);
    {
        auto buffer = scatterpool::allocate_buffer(3 * MiB, false);
        CHECK(buffer.get() == first);
        CHECK(all_bytes(buffer.get(), 3 * MiB, 0xAB));  // reused as it was left
        CHECK_EQ(cache.stats().hits, before.hits + 1);
        auto other = scatterpool::allocate_buffer(3 * MiB, false);  // the one held is in use: a new one
        CHECK(other.get() != first);
    }
    {
        auto zeros = scatterpool::allocate_buffer(3 * MiB, true);
        CHECK_EQ(cache.stats().hits, before.hits + 2);
        CHECK(all_bytes(zeros.get(), 3 * MiB, 0));
    }
    {
        const auto rows = scatterpool::VectorArray::zeros(3 * MiB / 8, 1);
        CHECK(all_bytes(rows.data(), 3 * MiB, 0));
    }
    {
        auto small = scatterpool::allocate_buffer(MiB / 2, false);  // below the minimum: not counted
        CHECK(small.get() != nullptr);
    }
    CHECK_EQ(cache.stats().hits + cache.stats().misses, before.hits + before.misses + 5);
    cache.set_max_bytes(0);
    CHECK_EQ(cache.stats().held_bytes, std::size_t{0});
    {
        auto buffer = scatterpool::allocate_buffer(3 * MiB, false);
        CHECK(buffer.get() != nullptr);
    }
    CHECK_EQ(cache.stats().held_bytes, std::size_t{0});  // off: freed
}

TEST_CASE(buffer_cache_keeps_a_buffer_alive_while_any_owner_holds_it) {
    const RestoreGlobalCache restore;
    BufferCache& cache = scatterpool::buffer_cache();
    cache.set_max_bytes(0);
    cache.set_max_bytes(64 * MiB);
    const auto a = scatterpool::VectorArray::zeros(MiB / 8 * 2, 1);  // 2 MiB
    const auto view = a.rows(1, 2);
    const void* data = a.data();
    {
        const auto b = a;  // another owner, then gone
    }
    CHECK_EQ(cache.stats().held_bytes, std::size_t{0});
    auto fresh = scatterpool::allocate_buffer(2 * MiB, false);
    CHECK(fresh.get() != data);  // a and its view still own theirs
    std::memset(fresh.get(), 0xFF, 2 * MiB);
    CHECK(all_bytes(a.data(), 2 * MiB, 0));
}

TEST_CASE(buffer_cache_shared_by_threads_that_allocate_and_free) {
    const RestoreGlobalCache restore;
    BufferCache& cache = scatterpool::buffer_cache();
    cache.set_max_bytes(0);
    constexpr std::size_t kCap = 12 * MiB;
    cache.set_max_bytes(kCap);
    constexpr int kThreads = 4;
    constexpr int kRounds = 200;
    std::vector<std::thread> threads;
    std::vector<int> wrong(kThreads, 0);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([t, &wrong, &cache] {
            for (int r = 0; r < kRounds; ++r) {
                const std::size_t bytes = (1 + static_cast<std::size_t>((t + r) % 3)) * MiB;
                const bool zero = r % 4 == 0;
                auto buffer = scatterpool::allocate_buffer(bytes, zero);
                auto* p = static_cast<unsigned char*>(buffer.get());
                if (zero && !(p[0] == 0 && p[bytes / 2] == 0 && p[bytes - 1] == 0)) {
                    ++wrong[static_cast<std::size_t>(t)];
                }
                // a buffer is one owner's alone: what this thread writes, it reads back
                p[0] = p[bytes / 2] = p[bytes - 1] = static_cast<unsigned char>(t + 1);
                if (p[0] != t + 1 || p[bytes / 2] != t + 1 || p[bytes - 1] != t + 1) {
                    ++wrong[static_cast<std::size_t>(t)];
                }
                if (cache.stats().held_bytes > kCap) {
                    ++wrong[static_cast<std::size_t>(t)];
                }
                if (r == kRounds / 2 && t == 0) {
                    cache.trim();
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    for (int t = 0; t < kThreads; ++t) {
        CHECK_EQ(wrong[static_cast<std::size_t>(t)], 0);
    }
    const auto s = cache.stats();
    CHECK(s.held_bytes <= kCap);
    CHECK(s.hits > 0);
}

#if defined(__unix__) || defined(__APPLE__)
TEST_CASE(buffer_cache_usable_in_a_child_forked_while_a_thread_was_inside) {
    // Thread `holder` is inside the cache (its lock taken) while reading the
    // clock, and stays there a while; the main thread forks as soon as it
    // knows that. A child that inherited the lock taken would hang at its
    // first cache operation (the alarm ends it).
    std::mutex m;
    std::condition_variable cv;
    bool inside = false;
    std::atomic<bool> hold_once{true};
    BufferCache cache(64 * MiB, std::chrono::seconds(10), [&] {
        if (hold_once.exchange(false)) {
            {
                const std::lock_guard<std::mutex> lock(m);
                inside = true;
            }
            cv.notify_all();
            std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the fork comes meanwhile
        }
        return Clock::now();
    });
    std::thread holder([&cache] { cache.give(block(2 * MiB)); });
    {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return inside; });
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(10);
        cache.give(block(3 * MiB));
        const BufferCache::Block b = cache.take(3 * MiB);
        const int code = b.data != nullptr ? 0 : 3;
#if defined(__linux__)
        // Straight to the kernel: a sanitizer's exit checks would count the
        // parent's threads, which this child does not have, as leaked.
        ::syscall(SYS_exit_group, code);
#endif
        ::_exit(code);
    }
    holder.join();
    CHECK(pid > 0);
    int status = 0;
    CHECK_EQ(::waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
}
#endif
