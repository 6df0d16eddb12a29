// scatterpool: allocation of array buffers.
#pragma once

#include <cstddef>
#include <memory>

#include <scatterpool/buffer_cache.hpp>

namespace scatterpool {

/// @brief Allocates @p bytes for array data and returns the owner.
///
/// Buffers come from the C heap, as NumPy's do. Large ones (4 MiB and more)
/// are marked for transparent huge pages: a copy into fresh memory is
/// dominated by page faults, and huge pages cut their number 512-fold.
/// Buffers of BufferCache::kMinBytes and more go to the process's
/// buffer_cache() when their last owner lets go, and a request of a size it
/// holds reuses one: repeated copies of the same size write into memory whose
/// pages are already mapped.
/// @param zero whether the buffer must read as zeros (a reused one is cleared).
/// @return a shared owner whose `get()` is the start (aligned as malloc aligns).
/// @throws std::bad_alloc when memory cannot be had.
std::shared_ptr<void> allocate_buffer(std::size_t bytes, bool zero);

/// @brief The cache of large freed buffers that allocate_buffer uses.
///
/// Its cap starts at 1/8 of the physical memory (512 MiB where that is
/// unknown): enough that an array of that size scattered again and again stays
/// in warm memory, while what the cache can keep from the rest of the system
/// stays small. Buffers idle for 10 s are freed at the next cache operation.
/// Change either at run time with set_max_bytes / set_idle (0 bytes: off).
/// Never destroyed, so that buffers freed during static destruction still
/// find it.
BufferCache& buffer_cache();

}  // namespace scatterpool
