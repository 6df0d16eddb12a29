// scatterpool: which worker of which pool the calling thread is running as.
#include <scatterpool/worker_context.hpp>

namespace scatterpool {

namespace {
thread_local const WorkerContext* t_current = nullptr;
}  // namespace

const WorkerContext* current_worker() noexcept { return t_current; }

WorkerScope::WorkerScope(std::uint64_t pool_uid, std::size_t index) noexcept
    : context_{pool_uid, index}, previous_(t_current) {
    t_current = &context_;
}

WorkerScope::~WorkerScope() { t_current = previous_; }

}  // namespace scatterpool
