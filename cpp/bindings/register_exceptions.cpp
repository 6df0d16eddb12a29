// scatterpool bindings: C++ exceptions as Python exceptions.
//
// std::invalid_argument -> ValueError and std::out_of_range -> IndexError come
// from pybind11; the core's own types are registered here with a standard
// Python base, so that `except RuntimeError` still catches PoolClosedError.
#include "bindings.hpp"

#include <new>

#include <scatterpool/errors.hpp>
#include <scatterpool/forced_unwind.hpp>

namespace scatterpool::bindings {

namespace {
PyObject* g_pool_closed = nullptr;  // borrowed: the module keeps the types alive
PyObject* g_reentrant = nullptr;
PyObject* g_invalid_remote = nullptr;
PyObject* g_dtype = nullptr;
}  // namespace

void register_exceptions(py::module_& m) {
    g_pool_closed = py::register_exception<PoolClosedError>(m, "PoolClosedError", PyExc_RuntimeError).ptr();
    g_reentrant = py::register_exception<ReentrantCallError>(m, "ReentrantCallError", PyExc_RuntimeError).ptr();
    g_invalid_remote =
        py::register_exception<InvalidRemoteObjectError>(m, "InvalidRemoteObjectError", PyExc_ValueError).ptr();
    g_dtype = py::register_exception<DTypeError>(m, "DTypeError", PyExc_TypeError).ptr();
}

void translate_current_exception() {
    try {
        throw;
    }
    SCATTERPOOL_PASS_FORCED_UNWIND
    catch (py::error_already_set& e) {
        e.restore();
    } catch (const py::builtin_exception& e) {
        e.set_error();
    } catch (const PoolClosedError& e) {
        PyErr_SetString(g_pool_closed, e.what());
    } catch (const ReentrantCallError& e) {
        PyErr_SetString(g_reentrant, e.what());
    } catch (const InvalidRemoteObjectError& e) {
        PyErr_SetString(g_invalid_remote, e.what());
    } catch (const DTypeError& e) {
        PyErr_SetString(g_dtype, e.what());
    } catch (const std::out_of_range& e) {
        PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const std::invalid_argument& e) {
        PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::bad_alloc&) {
        PyErr_NoMemory();
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (...) {
        PyErr_SetString(PyExc_RuntimeError, "scatterpool: unknown C++ exception");
    }
}

PyObject* fetch_exception() noexcept {
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != nullptr && value != nullptr) {
        PyException_SetTraceback(value, traceback);
    }
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    return value;
}

void restore_exception(PyObject* exception) noexcept {
    PyObject* traceback = PyException_GetTraceback(exception);
    PyErr_Restore(Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(exception))), exception, traceback);
}

}  // namespace scatterpool::bindings
