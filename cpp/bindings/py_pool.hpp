// scatterpool bindings: the Python face of a core pool.
#pragma once

#include "bindings.hpp"
#include "module_state.hpp"

#include <memory>

#include <scatterpool/pool.hpp>

namespace scatterpool::bindings {

struct CallState;

/// What a Python pool object (_core.Pool, and its _core.DummyPool and
/// _core.ThreadPool) holds: the core pool, the module state its calls use,
/// and the state of a call that Ctrl-C interrupted while workers still ran it.
struct PyPool {
    std::unique_ptr<Pool> pool;
    /// Whether calls run in the caller's thread with the GIL held (DummyPool:
    /// its one worker is the caller, and it takes no lock), rather than with
    /// the GIL released while the pool's threads take turns with it.
    bool runs_in_caller = false;
    py::object state_owner;  // the capsule of the module state
    ModuleState* state = nullptr;
    std::shared_ptr<CallState> interrupted;

    PyPool(std::unique_ptr<Pool> core_pool, bool in_caller, py::object state_capsule)
        : pool(std::move(core_pool)),
          runs_in_caller(in_caller),
          state_owner(std::move(state_capsule)),
          state(&module_state(state_owner)) {}
    PyPool(const PyPool&) = delete;
    PyPool& operator=(const PyPool&) = delete;
    // The Python layer closes pools before they go; if one was not, join its
    // threads with the GIL released (a thread that ran Python takes the GIL
    // to end), then drop the state of an interrupted call.
    ~PyPool() {
        if (!pool || pool->closed()) {
            return;
        }
        if (pool->in_task()) {
            // The last reference went away inside one of its own tasks: the
            // threads cannot be joined from here, so the pool is left running.
            (void)pool.release();
            return;
        }
        ReleaseGil released;
        pool->close();
    }
};

/// The PyPool behind a Python pool object (an instance of _core.Pool's
/// subclasses: the methods that call this are bound on _core.Pool).
///
/// Read straight from pybind11's instance: its cast looks the type up and,
/// for a derived type, searches its bases, which costs a tenth of a DummyPool
/// call. The value is a PyDummyPool or PyThreadPool, standard-layout classes
/// derived from PyPool alone (checked where they are bound), so it is also a
/// pointer to its PyPool.
inline PyPool& self_pool(PyObject* self) {
    auto* instance = reinterpret_cast<py::detail::instance*>(self);
    if (!instance->simple_layout) {
        return py::handle(self).cast<PyPool&>();
    }
    void* value = instance->simple_value_holder[0];
    if (value == nullptr || !instance->simple_holder_constructed) {
        throw py::type_error("the pool's __init__ did not run");
    }
    return *static_cast<PyPool*>(value);
}

/// push and scatter_list of a pool (pool_data.cpp); a new reference, or null with an exception set.
PyObject* push_object(PyObject* self, PyObject* object);
PyObject* scatter_sequence(PyObject* self, PyObject* sequence);

/// apply, apply_only, map, push and scatter_list as plain CPython methods (pool_methods.cpp).
void install_pool_methods(py::handle pool_type);

/// Waits (GIL released, Ctrl-C raises) for the workers of a call that Ctrl-C
/// interrupted earlier, then drops that call's state. Call with the GIL held.
void drop_interrupted(PyPool& self);

/// Raises pending signals (Ctrl-C) on the caller's thread while it waits with
/// the GIL released; for Pool::Poll. Throws Interrupted.
struct SignalPoll {
    void operator()() const;
};

/// What SignalPoll throws: the exception the signal handler raised.
struct Interrupted {
    PyObject* exception;  // owned
};

}  // namespace scatterpool::bindings
