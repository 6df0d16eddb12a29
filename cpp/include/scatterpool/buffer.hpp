// scatterpool: allocation of array buffers.
#pragma once

#include <cstddef>
#include <memory>

namespace scatterpool {

/// @brief Allocates @p bytes for array data and returns the owner.
///
/// Large buffers are mapped fresh from the kernel, aligned to 2 MiB and
/// marked for transparent huge pages: a fresh copy is dominated by page
/// faults, and huge pages cut their number 512-fold. Their memory reads as
/// zero until written. Small buffers come from the heap and are zeroed only
/// when @p zero is set.
/// @return a shared owner whose `get()` is the 64-byte aligned start.
/// @throws std::bad_alloc when memory cannot be had.
std::shared_ptr<void> allocate_buffer(std::size_t bytes, bool zero);

}  // namespace scatterpool
