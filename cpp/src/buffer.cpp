// scatterpool: allocation of array buffers.
#include <scatterpool/buffer.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__) || defined(__APPLE__)
#include <unistd.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace scatterpool {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
// From this size on, buffers are advised to use transparent huge pages.
constexpr std::size_t kHugeThreshold = std::size_t{4} << 20;

std::size_t round_up(std::size_t bytes, std::size_t to) { return (bytes + to - 1) / to * to; }

// Asks for huge pages on the whole 2 MiB pages inside [data, data + bytes).
// Advisory: where it fails or THP is off, only speed is lost.
void advise_huge_pages(void* data, std::size_t bytes) {
#if defined(__linux__)
    const auto begin = round_up(reinterpret_cast<std::uintptr_t>(data), kHugePage);
    const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) / kHugePage * kHugePage;
    if (end > begin) {
        ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
    }
#else
    (void)data;
    (void)bytes;
#endif
}

std::size_t default_cache_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) {
        return static_cast<std::size_t>(pages) / 8 * static_cast<std::size_t>(page);
    }
#endif
    return std::size_t{512} << 20;
}

void free_buffer(void* data) { std::free(data); }

// The deleter of a large buffer: back to the cache, which keeps or frees it.
struct GiveToCache {
    std::size_t capacity;
    void operator()(void* data) const noexcept { buffer_cache().give({data, capacity}); }
};

}  // namespace

BufferCache& buffer_cache() {
    static BufferCache* const cache = new BufferCache(default_cache_bytes());
    return *cache;
}

std::shared_ptr<void> allocate_buffer(std::size_t bytes, bool zero) {
    if (BufferCache::cacheable(bytes)) {
        const BufferCache::Block reused = buffer_cache().take(bytes);
        if (reused.data != nullptr) {
            if (zero) {
                std::memset(reused.data, 0, bytes);
            }
            return std::shared_ptr<void>(reused.data, GiveToCache{reused.capacity});
        }
    }
    // The C heap, not fresh mappings of our own: glibc reuses freed memory
    // for sizes up to its (adaptive) mapping threshold, which spares repeated
    // copies of the same size their page faults. Beyond that every buffer is
    // fresh memory, where huge pages cut the number of faults 512-fold.
    const bool huge = bytes >= kHugeThreshold;
    const std::size_t size = bytes == 0 ? 1 : bytes;
    // calloc: glibc skips the memset for fresh mappings, which come zeroed.
    const auto allocate = [&] { return zero ? std::calloc(size, 1) : std::malloc(size); };
    void* data = allocate();
    if (data == nullptr) {
        buffer_cache().trim();  // what the cache holds is the first memory to give up
        data = allocate();
    }
    if (data == nullptr) {
        throw std::bad_alloc();
    }
    if (huge) {
        advise_huge_pages(data, bytes);
    }
    if (BufferCache::cacheable(bytes)) {
        return std::shared_ptr<void>(data, GiveToCache{bytes});
    }
    return std::shared_ptr<void>(data, free_buffer);
}

}  // namespace scatterpool
