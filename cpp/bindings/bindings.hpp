// scatterpool bindings: the prelude every binding file includes first.
//
// GIL policy, written once:
// - Convert Python arguments to C++ values with the GIL held, then release it
//   for anything that waits (a pool call) or copies array data.
// - A worker thread takes the GIL only around a call into Python (GilTurn).
// - No py::object lives in a static or in a core type: Python objects stored
//   in the core are PyRef values, which take the GIL to let go of them.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include <scatterpool/any_object.hpp>
#include <scatterpool/forced_unwind.hpp>
#include <scatterpool/registry.hpp>
#include <scatterpool/remote_object.hpp>
#include <scatterpool/vector_array.hpp>

namespace py = pybind11;

namespace scatterpool::bindings {

/// A strong reference to a Python object, safe to destroy on any thread:
/// it takes the GIL to drop the reference.
class PyRef {
public:
    explicit PyRef(PyObject* object) noexcept : object_(object) { Py_XINCREF(object_); }
    PyRef(const PyRef&) = delete;
    PyRef& operator=(const PyRef&) = delete;
    ~PyRef();
    /// Borrowed; valid while this PyRef lives.
    PyObject* get() const noexcept { return object_; }

private:
    PyObject* object_;
};

/// An AnyObject holding a Python object (for the registry).
inline AnyObject make_py_value(py::handle object) { return AnyObject::make<PyRef>(object.ptr()); }

/// The Python object in a registry value; TypeError if it holds a C++ value.
PyObject* py_value(const AnyObject& value);

/// Lets go of the GIL on this thread, remembering the state so that GilTurn
/// can take it back for a task that runs on this thread meanwhile.
///
/// Neither this destructor nor GilTurn's constructor is noexcept: a thread
/// that takes the GIL back while the interpreter finalizes (a daemon thread
/// at exit) is ended there by pthread_exit, whose forced unwinding must be
/// free to leave them. A scope that may throw uses without_gil instead.
class ReleaseGil {
public:
    ReleaseGil() noexcept;
    ~ReleaseGil() noexcept(false);
    ReleaseGil(const ReleaseGil&) = delete;
    ReleaseGil& operator=(const ReleaseGil&) = delete;

private:
    PyThreadState* state_;
    PyThreadState* outer_;
};

/// Runs @p body with the GIL released (ReleaseGil) and takes the GIL back
/// before an exception of @p body goes on. Taking it back may end this thread
/// (pthread_exit, a daemon thread at exit), which must not happen while an
/// exception unwinds the stack: that terminates the process. Use it for any
/// body that may throw.
template <class F> decltype(auto) without_gil(F&& body) {
    std::exception_ptr failure;
    {
        ReleaseGil released;
        try {
            return body();
        }
        SCATTERPOOL_PASS_FORCED_UNWIND
        catch (...) {
            failure = std::current_exception();
        }
    }
    std::rethrow_exception(failure);
}

/// Takes the GIL on this thread for the lifetime of the object: a worker
/// thread of a pool, or a caller inside ReleaseGil. Threads of our pools take
/// turns through a flag before they ask for the GIL: waiting for the GIL
/// itself sleeps, and waking a sleeper costs tens of microseconds, while a
/// turn of a short Python call is over in a microsecond. After a short spin
/// (a task that lets go of the GIL keeps its turn) the thread asks anyway.
class GilTurn {
public:
    GilTurn();
    ~GilTurn();
    GilTurn(const GilTurn&) = delete;
    GilTurn& operator=(const GilTurn&) = delete;

private:
    bool owns_turn_;
};

/// Releases the interpreter state of a pool's worker thread (thread exit hook).
void release_worker_thread_state() noexcept;

/// The handle inside a Python RemoteObject (or an instance of a subclass), or null if @p object is not one.
RemoteHandle* as_remote_handle(PyObject* object) noexcept;
/// A new Python RemoteObject owning @p handle (null with an exception set).
PyObject* make_remote_object(RemoteHandle handle);
/// make_remote_object as a py::object; throws on failure.
py::object remote_object(RemoteHandle handle);

/// Sets the Python error for the C++ exception being handled (for the raw
/// CPython methods, which pybind11's dispatcher does not wrap). Rethrows the
/// forced unwinding of a thread that pthread_exit ends (forced_unwind.hpp).
void translate_current_exception();

/// The Python exception being raised, taken out of the error indicator with
/// its traceback attached (a new reference).
PyObject* fetch_exception() noexcept;
/// Raises @p exception (stolen) again, with its traceback.
void restore_exception(PyObject* exception) noexcept;

void register_exceptions(py::module_& m);
void register_split(py::module_& m);
void register_buffer_cache(py::module_& m);
void register_vector_array(py::module_& m);
void register_remote_object(py::module_& m);
void register_registry(py::module_& m);
void register_worker_context(py::module_& m);
void register_pools(py::module_& m, const py::object& state);

}  // namespace scatterpool::bindings
