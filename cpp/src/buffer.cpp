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

}  // namespace

std::shared_ptr<void> allocate_buffer(std::size_t bytes, bool zero) {
    // The C heap, not fresh mappings of our own: glibc reuses freed memory
    // for sizes up to its (adaptive) mapping threshold, which spares repeated
    // copies of the same size their page faults. Beyond that every buffer is
    // fresh memory, where huge pages cut the number of faults 512-fold.
    const bool huge = bytes >= kHugeThreshold;
    const std::size_t size = bytes == 0 ? 1 : bytes;
    // calloc: glibc skips the memset for fresh mappings, which come zeroed.
    void* data = zero ? std::calloc(size, 1) : std::malloc(size);
    if (data == nullptr) {
        throw std::bad_alloc();
    }
    if (huge) {
        advise_huge_pages(data, bytes);
    }
    return std::shared_ptr<void>(data, [](void* p) { std::free(p); });
}

}  // namespace scatterpool
