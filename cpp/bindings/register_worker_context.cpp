// scatterpool bindings: which worker runs the calling thread.
#include "bindings.hpp"

#include <memory>
#include <optional>

#include <scatterpool/worker_context.hpp>

namespace scatterpool::bindings {

namespace {

// Sets the worker seen by worker_index() while a `with` block runs; for pools
// whose workers are not core threads (MPI ranks).
class PyWorkerScope {
public:
    PyWorkerScope(std::uint64_t pool_uid, std::size_t index) : pool_uid_(pool_uid), index_(index) {}
    void enter() {
        if (scope_) {
            throw py::value_error("worker_scope: already entered");
        }
        scope_.emplace(pool_uid_, index_);
    }
    void exit() { scope_.reset(); }

private:
    std::uint64_t pool_uid_;
    std::size_t index_;
    std::optional<WorkerScope> scope_;
};

const WorkerContext& require_worker() {
    const WorkerContext* context = current_worker();
    if (context == nullptr) {
        throw std::runtime_error(
            "not running on a worker: worker_index() and worker_rng() answer inside a function run by a pool");
    }
    return *context;
}

}  // namespace

void register_worker_context(py::module_& m) {
    m.def(
        "worker_index", [] { return require_worker().index; },
        "The index of the worker running the calling function; RuntimeError outside a pool's function.");
    m.def(
        "worker_pool_uid", [] { return require_worker().pool_uid; },
        "The uid of the pool whose worker runs the calling function; RuntimeError outside one.");
    py::class_<PyWorkerScope>(m, "worker_scope")
        .def(py::init<std::uint64_t, std::size_t>(), py::arg("pool_uid"), py::arg("index"))
        .def("__enter__", [](PyWorkerScope& self) { self.enter(); })
        .def("__exit__", [](PyWorkerScope& self, const py::args&) {
            self.exit();
            return false;
        });
}

}  // namespace scatterpool::bindings
