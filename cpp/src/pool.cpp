// scatterpool: Pool, the interface DummyPool and ThreadPool share.
#include <scatterpool/pool.hpp>

#include <string>

#include <scatterpool/worker_context.hpp>

namespace scatterpool {

Pool::Pool(std::size_t size) : size_(size) {
    if (size == 0) {
        throw std::invalid_argument("a pool needs at least 1 worker, got 0");
    }
    registry_ = std::make_shared<Registry>(size);
}

bool Pool::in_task() const noexcept {
    const WorkerContext* context = current_worker();
    return context != nullptr && context->pool_uid == uid();
}

void Pool::check_open() const {
    if (closed()) {
        throw PoolClosedError("the pool is closed");
    }
    if (in_task()) {
        throw ReentrantCallError(
            "the pool was called from inside one of its own tasks; that would deadlock. "
            "Call the pool from outside its tasks, or use another pool inside them");
    }
}

void Pool::check_worker(std::size_t worker) const {
    if (worker >= size_) {
        throw std::out_of_range("worker " + std::to_string(worker) + " is not in the range 0.." +
                                std::to_string(size_ - 1) + " of this pool");
    }
}

void Pool::check_handle(const RemoteHandle& handle) const {
    if (handle.removed()) {
        throw InvalidRemoteObjectError("remote object " + std::to_string(handle.id()) + " was removed");
    }
    if (handle.registry() != registry_) {
        throw InvalidRemoteObjectError("remote object " + std::to_string(handle.id()) +
                                       " belongs to another pool");
    }
}

std::vector<VectorArray> Pool::partition(const VectorArray& U, bool copy) {
    check_open();
    if (!copy) {
        return U.partition(size_, false);
    }
    const std::vector<std::size_t> offsets = even_split(U.len(), size_);
    std::vector<VectorArray> parts(size_);
    // Each worker allocates and fills its own part: the copies run in
    // parallel, and each part's pages are first touched by its user.
    auto task = [&](std::size_t w) { parts[w] = U.rows(offsets[w], offsets[w + 1]).copy(); };
    run_all(task);
    return parts;
}

RemoteObject<VectorArray> Pool::scatter(VectorArray& U, bool copy) {
    std::vector<VectorArray> parts = partition(U, copy);
    std::vector<AnyObject> values;
    values.reserve(size_);
    for (VectorArray& part : parts) {
        values.push_back(AnyObject::make<VectorArray>(std::move(part)));
    }
    RemoteObject<VectorArray> remote(RemoteHandle(registry_, registry_->add(std::move(values))));
    if (!copy) {
        U.clear();
    }
    return remote;
}

}  // namespace scatterpool
