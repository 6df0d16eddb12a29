// scatterpool: Pool, the interface DummyPool and ThreadPool share.
#include <scatterpool/pool.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <string>
#include <thread>

#include <scatterpool/forced_unwind.hpp>
#include <scatterpool/worker_context.hpp>

namespace scatterpool {

namespace {

// How much partition() copies between two polls: a few milliseconds of work.
constexpr std::size_t kCopySliceBytes = std::size_t{8} << 20;

}  // namespace

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

std::vector<VectorArray> Pool::partition(const VectorArray& U, bool copy, Poll poll) {
    check_open();
    if (!copy) {
        return U.partition(size_, false);
    }
    const std::vector<std::size_t> offsets = even_split(U.len(), size_);
    std::vector<VectorArray> parts(size_);
    // A copy of a large array takes seconds: the calling thread polls between
    // slices of its own part and while it waits, and when a poll throws
    // (Ctrl-C), every worker stops at its next slice. The exception is held
    // until they have: the parts and the task are this call's locals.
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<bool> stop{false};
    std::exception_ptr interruption;
    auto check = [&] {
        if (!poll || interruption) {
            return;
        }
        try {
            poll();
        }
        SCATTERPOOL_PASS_FORCED_UNWIND
        catch (...) {
            interruption = std::current_exception();
            stop.store(true, std::memory_order_relaxed);
        }
    };
    // Each worker allocates and fills its own part: the copies run in
    // parallel, and each part's pages are first touched by its user.
    auto task = [&](std::size_t w) {
        const VectorArray rows = U.rows(offsets[w], offsets[w + 1]);
        VectorArray part = VectorArray::uninitialized(rows.len(), rows.dim(), rows.dtype());
        const std::size_t row_bytes = rows.dim() * itemsize(rows.dtype());
        const std::size_t slice_rows = std::max<std::size_t>(1, kCopySliceBytes / std::max<std::size_t>(1, row_bytes));
        auto* out = static_cast<std::byte*>(part.mutable_data());
        for (std::size_t begin = 0; begin < rows.len(); begin += slice_rows) {
            if (begin != 0 && std::this_thread::get_id() == caller) {
                check();
            }
            if (stop.load(std::memory_order_relaxed)) {
                return;
            }
            const std::size_t end = std::min(rows.len(), begin + slice_rows);
            rows.rows(begin, end).copy_to(out + begin * row_bytes);
        }
        parts[w] = std::move(part);
    };
    run_all(task, check);  // check never throws: the call returns once every worker has stopped
    if (interruption) {
        std::rethrow_exception(interruption);
    }
    return parts;
}

RemoteObject<VectorArray> Pool::scatter(VectorArray& U, bool copy, Poll poll) {
    std::vector<VectorArray> parts = partition(U, copy, poll);
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
