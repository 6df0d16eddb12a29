// scatterpool: which worker of which pool the calling thread is running as.
#pragma once

#include <cstddef>
#include <cstdint>

namespace scatterpool {

/// @brief The pool and worker a task runs on.
struct WorkerContext {
    std::uint64_t pool_uid;  ///< Registry::uid() of the pool
    std::size_t index;       ///< worker index, 0 .. size-1
};

/// @brief The context of the task running on this thread, or null outside tasks.
const WorkerContext* current_worker() noexcept;

/// @brief Sets the calling thread's context for its lifetime, then restores
/// the previous one (tasks of one pool may run inside tasks of another).
class WorkerScope {
public:
    WorkerScope(std::uint64_t pool_uid, std::size_t index) noexcept;
    ~WorkerScope();
    WorkerScope(const WorkerScope&) = delete;
    WorkerScope& operator=(const WorkerScope&) = delete;

private:
    WorkerContext context_;
    const WorkerContext* previous_;
};

}  // namespace scatterpool
