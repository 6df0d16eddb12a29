// scatterpool: C functions as pool tasks, for callers that have no C++ callable (C, Cython).
#pragma once

#include <cstddef>
#include <stdexcept>

#include <scatterpool/pool.hpp>

namespace scatterpool {

/// @brief A plain function a pool runs as a task.
///
/// It receives the index of the worker that runs it and the pointer the
/// caller passed along; a Cython `cdef void f(size_t worker, void* data)
/// noexcept nogil` is one. On a ThreadPool the workers run it at the same
/// time, so it should write only to what belongs to its worker (slot
/// `worker` of an output array, part `worker` of a partition). A C or Cython
/// function cannot throw: it reports failures through @p data.
using CTask = void (*)(std::size_t worker, void* data);

/// @brief Runs `task(w, data)` on every worker `w` of @p pool and waits for all of them.
/// @throws std::invalid_argument if @p task is null; PoolClosedError,
///         ReentrantCallError and the task's own exceptions as Pool::run_all.
inline void run_all_c(Pool& pool, CTask task, void* data) {
    if (task == nullptr) {
        throw std::invalid_argument("run_all_c: the task is a null function pointer");
    }
    auto call = [task, data](std::size_t worker) { task(worker, data); };
    pool.run_all(call);
}

/// @brief Runs `task(worker, data)` on worker @p worker of @p pool and waits.
/// @throws std::out_of_range if @p worker >= pool.size(); otherwise as run_all_c.
inline void run_one_c(Pool& pool, std::size_t worker, CTask task, void* data) {
    if (task == nullptr) {
        throw std::invalid_argument("run_one_c: the task is a null function pointer");
    }
    auto call = [task, data](std::size_t w) { task(w, data); };
    pool.run_one(worker, call);
}

}  // namespace scatterpool
