// scatterpool: allocation of array buffers.
#include <scatterpool/buffer.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace scatterpool {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
// Below this a heap allocation is cheaper than a fresh mapping.
constexpr std::size_t kMapThreshold = std::size_t{4} << 20;

#if defined(__linux__)
std::shared_ptr<void> map_huge(std::size_t bytes) {
    // Map one huge page more than the rounded size so that the start can be aligned.
    const std::size_t used = (bytes + kHugePage - 1) & ~(kHugePage - 1);
    const std::size_t length = used + kHugePage;
    void* raw = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        throw std::bad_alloc();
    }
    const auto base = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t start = (base + kHugePage - 1) & ~(kHugePage - 1);
    const std::size_t head = start - base;
    const std::size_t tail = length - head - used;  // >= 0: head < kHugePage
    // Trim both ends so that the mapping is exactly the aligned range.
    if (head != 0) {
        ::munmap(raw, head);
    }
    if (tail != 0) {
        ::munmap(reinterpret_cast<void*>(start + used), tail);
    }
    void* data = reinterpret_cast<void*>(start);
    ::madvise(data, used, MADV_HUGEPAGE);  // advisory: failure only costs speed
    return std::shared_ptr<void>(data, [used](void* p) { ::munmap(p, used); });
}
#endif

}  // namespace

std::shared_ptr<void> allocate_buffer(std::size_t bytes, bool zero) {
#if defined(__linux__)
    if (bytes >= kMapThreshold) {
        return map_huge(bytes);  // fresh anonymous pages are already zero
    }
#endif
    const std::size_t rounded = ((bytes == 0 ? 1 : bytes) + 63) & ~std::size_t{63};
    void* data = std::aligned_alloc(64, rounded);
    if (data == nullptr) {
        throw std::bad_alloc();
    }
    if (zero) {
        std::memset(data, 0, rounded);
    }
    return std::shared_ptr<void>(data, [](void* p) { std::free(p); });
}

}  // namespace scatterpool
