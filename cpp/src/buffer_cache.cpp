// scatterpool: a bounded cache of large freed buffers.
#include <scatterpool/buffer_cache.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace scatterpool {

namespace {

// The live caches, for the fork handlers. Never destroyed: a cache may be
// destroyed during static destruction, after these would have been.
std::mutex& live_caches_mutex() {
    static auto* const m = new std::mutex;
    return *m;
}

std::vector<BufferCache*>& live_caches() {
    static auto* const v = new std::vector<BufferCache*>;
    return *v;
}

}  // namespace

BufferCache::BufferCache(std::size_t max_bytes, Clock::duration idle, std::function<Clock::time_point()> now)
    : max_bytes_(max_bytes), idle_(idle), now_(std::move(now)) {
#if defined(__unix__) || defined(__APPLE__)
    static std::once_flag registered;
    std::call_once(registered, [] {
        ::pthread_atfork(&BufferCache::lock_all_before_fork, &BufferCache::unlock_all_after_fork,
                         &BufferCache::unlock_all_after_fork);
    });
#endif
    const std::lock_guard<std::mutex> lock(live_caches_mutex());
    live_caches().push_back(this);
}

BufferCache::~BufferCache() {
    trim();
    const std::lock_guard<std::mutex> lock(live_caches_mutex());
    auto& caches = live_caches();
    caches.erase(std::remove(caches.begin(), caches.end(), this), caches.end());
}

void BufferCache::lock_all_before_fork() noexcept {
    // No cache operation takes live_caches_mutex() while it holds a cache's
    // lock, so this order cannot deadlock.
    live_caches_mutex().lock();
    for (BufferCache* c : live_caches()) {
        c->mutex_.lock();
    }
}

void BufferCache::unlock_all_after_fork() noexcept {
    for (BufferCache* c : live_caches()) {
        c->mutex_.unlock();
    }
    live_caches_mutex().unlock();
}

BufferCache::Block BufferCache::take(std::size_t bytes) {
    if (!cacheable(bytes)) {
        return {};
    }
    std::vector<Block> expired;
    Block found;
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        evict_locked(idle_cutoff_locked(), max_bytes_, expired);
        // Best fit within the waste bound; among equals the most recently given
        // (the warmest in the CPU caches), hence the scan from the back.
        const std::size_t most = bytes > SIZE_MAX - bytes / 8 ? SIZE_MAX : bytes + bytes / 8;
        auto best = entries_.end();
        for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
            const std::size_t c = it->block.capacity;
            if (c >= bytes && c <= most && (best == entries_.end() || c < best->block.capacity)) {
                best = std::prev(it.base());
            }
        }
        if (best == entries_.end()) {
            ++misses_;
        } else {
            ++hits_;
            found = best->block;
            held_ -= found.capacity;
            entries_.erase(best);
        }
    }
    release(expired);
    return found;
}

void BufferCache::give(Block block) noexcept {
    if (block.data == nullptr) {
        return;
    }
    std::vector<Block> freed;
    bool kept = false;
    try {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (cacheable(block.capacity) && block.capacity <= max_bytes_) {
            // Room first (the oldest go), then the newcomer at the back.
            evict_locked(idle_cutoff_locked(), max_bytes_ - block.capacity, freed);
            entries_.push_back({block, now_()});
            held_ += block.capacity;
            kept = true;
        } else {
            evict_locked(idle_cutoff_locked(), max_bytes_, freed);
        }
    } catch (...) {
        // Out of memory for the bookkeeping (or the lock): the buffer is freed
        // instead of held; whatever was evicted before is in `freed`.
    }
    if (!kept) {
        std::free(block.data);
    }
    release(freed);
}

void BufferCache::set_max_bytes(std::size_t max_bytes) {
    std::vector<Block> freed;
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        max_bytes_ = max_bytes;
        evict_locked(idle_cutoff_locked(), max_bytes_, freed);
    }
    release(freed);
}

void BufferCache::set_idle(Clock::duration idle) {
    std::vector<Block> freed;
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        idle_ = idle;
        evict_locked(idle_cutoff_locked(), max_bytes_, freed);
    }
    release(freed);
}

void BufferCache::trim(Clock::duration idle) {
    std::vector<Block> freed;
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        // An entry given at the cutoff itself has been held for exactly `idle`: it goes too.
        evict_locked(cutoff(now_(), idle) + Clock::duration(1), max_bytes_, freed);
    }
    release(freed);
}

BufferCacheStats BufferCache::stats() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    BufferCacheStats s;
    s.held_bytes = held_;
    s.held_buffers = entries_.size();
    s.max_bytes = max_bytes_;
    s.idle_seconds = std::chrono::duration<double>(idle_).count();
    s.hits = hits_;
    s.misses = misses_;
    return s;
}

BufferCache::Clock::time_point BufferCache::cutoff(Clock::time_point now, Clock::duration idle) noexcept {
    // now - idle, without running below the clock's range for a huge idle time
    idle = std::max(idle, Clock::duration::zero());
    return now.time_since_epoch() < Clock::duration::min() + idle ? Clock::time_point::min() : now - idle;
}

BufferCache::Clock::time_point BufferCache::idle_cutoff_locked() const { return cutoff(now_(), idle_); }

void BufferCache::evict_locked(Clock::time_point before, std::size_t limit, std::vector<Block>& out) {
    std::size_t n = 0;  // entries are oldest first: evict a prefix
    std::size_t held = held_;
    while (n < entries_.size() && (entries_[n].given < before || held > limit)) {
        held -= entries_[n].block.capacity;
        ++n;
    }
    if (n == 0) {
        return;
    }
    out.reserve(out.size() + n);  // the only step that may throw, before anything changes
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(entries_[i].block);
    }
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(n));
    held_ = held;
}

void BufferCache::release(const std::vector<Block>& blocks) noexcept {
    for (const Block& b : blocks) {
        std::free(b.data);
    }
}

}  // namespace scatterpool
