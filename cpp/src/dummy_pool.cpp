// scatterpool: DummyPool, one worker that runs in the caller's thread.
#include <scatterpool/dummy_pool.hpp>

#include <scatterpool/worker_context.hpp>

namespace scatterpool {

void DummyPool::run_all(Task task, Poll /*poll*/) {
    check_open();
    WorkerScope scope(uid(), 0);
    task(0);
}

void DummyPool::run_one(std::size_t worker, Task task, Poll poll) {
    check_worker(worker);
    run_all(task, poll);
}

void DummyPool::close() {
    if (in_task()) {
        throw ReentrantCallError("a pool cannot be closed from inside one of its own tasks");
    }
    if (!closed()) {
        mark_closed();
        registry()->clear();
    }
}

}  // namespace scatterpool
