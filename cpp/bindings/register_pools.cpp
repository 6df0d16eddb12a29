// scatterpool bindings: the core pools (DummyPool, ThreadPool) as _core.Pool.
#include "py_pool.hpp"

#include <chrono>

#include <scatterpool/dummy_pool.hpp>
#include <scatterpool/thread_pool.hpp>

namespace scatterpool::bindings {

namespace {

std::unique_ptr<PyPool> make_pool(const std::string& kind, long long num_workers, long long spin_us) {
    auto p = std::make_unique<PyPool>();
    if (kind == "dummy") {
        p->pool = std::make_unique<DummyPool>();
        return p;
    }
    if (kind != "threads") {
        throw py::value_error("pool kind must be 'dummy' or 'threads', got '" + kind + "'");
    }
    if (num_workers <= 0) {
        throw py::value_error("ThreadPool needs at least 1 worker, got " + std::to_string(num_workers));
    }
    ThreadPoolOptions options;
    options.spin = std::chrono::microseconds(spin_us);
    options.on_thread_exit = release_worker_thread_state;
    auto threads = std::make_unique<ThreadPool>(static_cast<std::size_t>(num_workers), std::move(options));
    p->threads = threads.get();
    p->pool = std::move(threads);
    return p;
}

void close_pool(PyPool& p) {
    if (p.pool->closed()) {
        return;
    }
    drop_interrupted(p);
    // Joining lets the worker threads end, which takes the GIL to release
    // their interpreter states; the registry's Python values take it themselves.
    ReleaseGil released;
    p.pool->close();
}

}  // namespace

void register_pools(py::module_& m) {
    py::class_<PyPool> pool(m, "Pool",
                            "A core pool: kind 'dummy' (one worker in the caller's thread) or 'threads'\n"
                            "(num_workers workers on persistent threads, the caller acting as worker 0).");
    pool.def(py::init(&make_pool), py::arg("kind"), py::arg("num_workers") = 1, py::arg("spin_us") = -1)
        .def("__len__", [](const PyPool& p) { return p.pool->size(); })
        .def_property_readonly(
            "closed", [](const PyPool& p) { return p.pool->closed(); }, "Whether close() was called.")
        .def_property_readonly(
            "uid", [](const PyPool& p) { return p.pool->uid(); }, "Unique in the process.")
        .def_property_readonly(
            "registry", [](const PyPool& p) { return p.pool->registry(); }, "The workers' objects.")
        .def_property_readonly(
            "concurrent", [](const PyPool& p) { return p.pool->concurrent(); },
            "Whether workers of one call may run at the same time.")
        .def_property_readonly(
            "spin_us",
            [](const PyPool& p) { return p.threads ? p.threads->spin().count() : 0; },
            "How long idle threads poll for work before they sleep, in microseconds.")
        .def("_check_open", [](const PyPool& p) { p.pool->check_open(); })
        .def(
            "_partition",
            [](PyPool& p, const VectorArray& U, bool copy) {
                drop_interrupted(p);
                ReleaseGil released;  // copies run on the workers, which touch no Python object
                return p.pool->partition(U, copy);
            },
            py::arg("U"), py::arg("copy"),
            "U's rows split by even_split: views (copy=False) or copies made by their own workers.")
        .def("close", &close_pool, "Stops the workers and frees every remote object. Safe to call twice.")
        .def(
            "_abandon_after_fork",
            [](PyPool& p) {
                if (p.threads != nullptr) {
                    p.threads->abandon_after_fork();
                }
                p.interrupted.reset();
            },
            "In a forked child: the pool's threads are not there; mark it closed without joining them.");
    install_methods(pool, call_methods());
    install_methods(pool, data_methods());
    m.def(
        "_set_hooks",
        [](const py::object& copier, const py::object& push_values) {
            set_copier(copier);
            set_push_hook(push_values);
        },
        py::arg("copier"), py::arg("push_values"),
        "Sets the Python judgement the hot paths call: copier(obj, n) -> None | list gives each\n"
        "worker of a concurrent call its own copy of a plain argument; push_values(obj, n) -> key |\n"
        "list says how push stores obj.");
}

}  // namespace scatterpool::bindings
