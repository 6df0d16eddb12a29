// scatterpool bindings: the core pools as _core.Pool (the shared transport),
// _core.DummyPool and _core.ThreadPool.
#include "py_pool.hpp"

#include <chrono>
#include <type_traits>

#include <scatterpool/dummy_pool.hpp>
#include <scatterpool/thread_pool.hpp>

namespace scatterpool::bindings {

namespace {

struct PyDummyPool : PyPool {
    explicit PyDummyPool(py::object state) : PyPool(std::make_unique<DummyPool>(), true, std::move(state)) {}
};

std::unique_ptr<ThreadPool> make_thread_pool(long long num_workers, long long spin_us) {
    if (num_workers <= 0) {
        throw py::value_error("ThreadPool needs at least 1 worker, got " + std::to_string(num_workers));
    }
    ThreadPoolOptions options;
    options.spin = std::chrono::microseconds(spin_us);
    options.on_thread_exit = release_worker_thread_state;
    return std::make_unique<ThreadPool>(static_cast<std::size_t>(num_workers), std::move(options));
}

struct PyThreadPool : PyPool {
    PyThreadPool(long long num_workers, long long spin_us, py::object state)
        : PyPool(make_thread_pool(num_workers, spin_us), false, std::move(state)) {}
    ThreadPool& threads() const { return static_cast<ThreadPool&>(*pool); }
};

// self_pool reads a PyPool where pybind11 keeps the value of these types.
static_assert(std::is_standard_layout_v<PyDummyPool> && std::is_standard_layout_v<PyThreadPool>,
              "a pool type's pointer must be its PyPool's");

void close_workers(PyPool& p) {
    if (p.pool->closed()) {
        return;
    }
    drop_interrupted(p);
    // Joining lets the worker threads end, which takes the GIL to release
    // their interpreter states; the registry's Python values take it themselves.
    without_gil([&] { p.pool->close(); });
}

}  // namespace

void register_pools(py::module_& m, const py::object& state) {
    py::class_<PyPool> pool(m, "Pool",
                            "A core pool: its workers, its registry and the C methods of the per-call hot path.\n"
                            "Made as DummyPool or ThreadPool.");
    pool.def_property_readonly("closed", [](const PyPool& p) { return p.pool->closed(); }, "Whether it was closed.")
        .def("__len__", [](const PyPool& p) { return p.pool->size(); })
        .def_property_readonly(
            "uid", [](const PyPool& p) { return p.pool->uid(); }, "Unique in the process.")
        .def_property_readonly(
            "registry", [](const PyPool& p) { return p.pool->registry(); }, "The workers' objects.")
        .def_property_readonly(
            "concurrent", [](const PyPool& p) { return p.pool->concurrent(); },
            "Whether workers of one call may run at the same time.")
        .def(
            "_check_open", [](const PyPool& p) { p.pool->check_open(); },
            "PoolClosedError when closed, ReentrantCallError inside one of its tasks.")
        .def(
            "_partition",
            [](PyPool& p, const VectorArray& U, bool copy) {
                drop_interrupted(p);
                try {
                    // copies run on the workers, which touch no Python object; Ctrl-C stops them
                    return without_gil([&] { return p.pool->partition(U, copy, SignalPoll{}); });
                } catch (Interrupted& interrupted) {
                    restore_exception(interrupted.exception);
                    throw py::error_already_set();
                }
            },
            py::arg("U"), py::arg("copy"),
            "U's rows split by even_split: views (copy=False) or copies made by their own workers.")
        .def("_close_workers", &close_workers,
             "Stops the workers and frees every remote object. Safe to call twice.")
        .def(
            "_abandon_after_fork",
            [](PyPool& p) {
                if (auto* threads = dynamic_cast<ThreadPool*>(p.pool.get())) {
                    threads->abandon_after_fork();
                }
                p.interrupted.reset();
            },
            "In a forked child: the pool's threads are not there; mark it closed without joining them.");
    install_pool_methods(pool);

    py::class_<PyDummyPool, PyPool> dummy(m, "DummyPool", "One worker, which runs every call in the caller's thread.");
    dummy.def(py::init([state]() { return std::make_unique<PyDummyPool>(state); }));

    py::class_<PyThreadPool, PyPool> threads(
        m, "ThreadPool",
        "num_workers workers on persistent threads, the caller acting as worker 0 (spin_us < 0: the default spin).");
    threads.def(py::init([state](long long num_workers, long long spin_us) {
                 return std::make_unique<PyThreadPool>(num_workers, spin_us, state);
             }),
             py::arg("num_workers"), py::arg("spin_us") = -1)
        .def_property_readonly(
            "spin_us", [](const PyThreadPool& p) { return p.threads().spin().count(); },
            "How long idle threads poll for work before they sleep, in microseconds.");

    // The same methods again on each concrete type: a method's descriptor checks
    // that self is an instance of the type it is bound on, a walk up the
    // method resolution order that is shortest from the concrete type.
    install_pool_methods(dummy);
    install_pool_methods(threads);

    m.def(
        "_set_hooks",
        [state](py::object copier, py::object push_values, py::object merge_errors, py::object shared_types) {
            ModuleState& s = module_state(state);
            s.copier = std::move(copier);
            s.push_values = std::move(push_values);
            s.merge_errors = std::move(merge_errors);
            s.shared_types = std::move(shared_types);
        },
        py::arg("copier"), py::arg("push_values"), py::arg("merge_errors"), py::arg("shared_types"),
        "Sets the Python judgement the hot paths call: copier(values, n) -> None | list of n tuples\n"
        "gives each worker of a call its own copies of the plain arguments (one object graph);\n"
        "push_values(obj, n) -> key | list says how push stores obj; merge_errors({worker: exception})\n"
        "-> exception is what a call raises when workers raised; shared_types ({type: bool}) names the\n"
        "types whose instances are shared as they are.");
}

}  // namespace scatterpool::bindings
