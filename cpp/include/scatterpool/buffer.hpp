// scatterpool: allocation of array buffers.
#pragma once

#include <cstddef>
#include <memory>

namespace scatterpool {

/// @brief Allocates @p bytes for array data and returns the owner.
///
/// Buffers come from the C heap, as NumPy's do. Large ones (4 MiB and more)
/// are marked for transparent huge pages: a copy into fresh memory is
/// dominated by page faults, and huge pages cut their number 512-fold.
/// @param zero whether the buffer must read as zeros.
/// @return a shared owner whose `get()` is the start (aligned as malloc aligns).
/// @throws std::bad_alloc when memory cannot be had.
std::shared_ptr<void> allocate_buffer(std::size_t bytes, bool zero);

}  // namespace scatterpool
