// scatterpool: a bounded cache of large freed buffers, so that repeated
// allocations of the same size reuse memory whose pages are already mapped.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace scatterpool {

/// @brief What a BufferCache holds and how it has served, at one moment.
struct BufferCacheStats {
    std::size_t held_bytes = 0;    ///< bytes of the buffers held (their capacities)
    std::size_t held_buffers = 0;  ///< number of buffers held
    std::size_t max_bytes = 0;     ///< the cap: held_bytes never exceeds it
    double idle_seconds = 0;       ///< a buffer held this long without reuse is freed
    std::uint64_t hits = 0;        ///< requests served by a held buffer
    std::uint64_t misses = 0;      ///< requests of a cacheable size that found none
};

/// @brief Holds large freed buffers (from std::malloc/std::calloc) for reuse.
///
/// A copy into fresh memory costs its page faults (about as much as the copy
/// itself); a copy into a buffer freed a moment ago does not. The policy:
/// - Only buffers of kMinBytes and more are held: smaller ones fault little,
///   and the C heap recycles them itself.
/// - A held buffer of capacity c serves a request of b bytes when
///   b <= c <= b + b / 8: at most 1/8 of a reused buffer goes unused, and
///   parts that differ by a row still find each other. The best fit wins.
/// - The held bytes never exceed max_bytes: a buffer given back that does not
///   fit evicts the oldest held ones first (or is freed if larger than the
///   cap). max_bytes = 0 turns the cache off and frees what it holds.
/// - A buffer held idle_seconds without being reused is freed at the next
///   take() or give(), or by trim().
/// Thread-safe; buffers are freed outside the lock. Fork-safe: a fork()
/// waits until no thread is inside a cache, so the child's caches are usable.
class BufferCache {
public:
    using Clock = std::chrono::steady_clock;
    /// Buffers smaller than this are never held (1 MiB).
    static constexpr std::size_t kMinBytes = std::size_t{1} << 20;

    /// @brief A buffer and its capacity (what it was allocated with).
    struct Block {
        void* data = nullptr;
        std::size_t capacity = 0;
    };

    /// @param max_bytes the cap on held bytes (0: hold nothing).
    /// @param idle how long a held buffer may wait for reuse.
    /// @param now the clock (injectable, for tests).
    explicit BufferCache(std::size_t max_bytes, Clock::duration idle = std::chrono::seconds(10),
                         std::function<Clock::time_point()> now = Clock::now);
    ~BufferCache();
    BufferCache(const BufferCache&) = delete;
    BufferCache& operator=(const BufferCache&) = delete;

    /// @brief Whether a buffer of @p bytes is of a size the cache holds.
    static bool cacheable(std::size_t bytes) noexcept { return bytes >= kMinBytes; }

    /// @brief A held buffer for a request of @p bytes (removed from the cache),
    /// or an empty Block when none fits. Counts a hit or a miss.
    Block take(std::size_t bytes);

    /// @brief Takes ownership of @p block: holds it for reuse, or frees it
    /// (too small, larger than the cap, or the cache is off).
    void give(Block block) noexcept;

    /// @brief Sets the cap, freeing the oldest held buffers down to it.
    void set_max_bytes(std::size_t max_bytes);

    /// @brief Sets how long a held buffer may stay unused, freeing those idle longer.
    void set_idle(Clock::duration idle);

    /// @brief Frees the buffers held for @p idle or longer (zero: all of them).
    void trim(Clock::duration idle = Clock::duration::zero());

    BufferCacheStats stats() const;

private:
    struct Entry {
        Block block;
        Clock::time_point given;
    };
    // now - idle, or the clock's minimum when idle reaches past it.
    static Clock::time_point cutoff(Clock::time_point now, Clock::duration idle) noexcept;
    // Entries given before this have been idle too long.
    Clock::time_point idle_cutoff_locked() const;
    // Moves the entries given before @p before, then the oldest until
    // held_ <= limit, into @p out (for freeing outside the lock). On an
    // exception nothing has changed.
    void evict_locked(Clock::time_point before, std::size_t limit, std::vector<Block>& out);
    static void release(const std::vector<Block>& blocks) noexcept;
    // pthread_atfork handlers: every live cache's lock is taken before a fork
    // and given back after it in parent and child, so that the child never
    // inherits a lock held by a thread that does not exist there.
    static void lock_all_before_fork() noexcept;
    static void unlock_all_after_fork() noexcept;

    mutable std::mutex mutex_;
    std::vector<Entry> entries_;  // oldest first
    std::size_t held_ = 0;
    std::size_t max_bytes_;
    Clock::duration idle_;
    std::function<Clock::time_point()> now_;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
};

}  // namespace scatterpool
