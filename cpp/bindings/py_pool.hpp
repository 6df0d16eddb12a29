// scatterpool bindings: the Python face of a core pool.
#pragma once

#include "bindings.hpp"

#include <memory>

#include <scatterpool/pool.hpp>
#include <scatterpool/thread_pool.hpp>

namespace scatterpool::bindings {

struct CallState;

/// What a Python pool object holds: the core pool, and the state of a call
/// that Ctrl-C interrupted while workers still ran it.
struct PyPool {
    std::unique_ptr<Pool> pool;
    ThreadPool* threads = nullptr;  // pool, when it is a ThreadPool
    std::shared_ptr<CallState> interrupted;

    PyPool() = default;
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

/// The PyPool behind a Python pool object.
inline PyPool& self_pool(PyObject* self) { return py::handle(self).cast<PyPool&>(); }

/// apply, apply_only and map (pool_calls.cpp); push and scatter_list (pool_data.cpp).
PyMethodDef* call_methods() noexcept;
PyMethodDef* data_methods() noexcept;

/// Installs plain CPython methods on the Python pool type.
void install_methods(py::handle pool_type, PyMethodDef* methods);

/// Sets push_values(obj, n) -> str | list: the registry key of an immutable
/// object, else one deep copy per worker.
void set_push_hook(const py::object& hook);

/// Sets the function that makes per-worker copies of a plain argument:
/// copier(obj, n) -> None to share obj, or a list of n objects.
void set_copier(const py::object& copier);

/// Waits (GIL released, Ctrl-C raises) for the workers of a call that Ctrl-C
/// interrupted earlier, then drops that call's state. Call with the GIL held.
void drop_interrupted(PyPool& self);

/// Raises pending signals (Ctrl-C) on the caller's thread while it waits with
/// the GIL released; for Pool::Poll.
struct SignalPoll {
    void operator()() const;
};

}  // namespace scatterpool::bindings
