// scatterpool bindings: the per-call hot path's entry points, apply,
// apply_only, map, push and scatter_list, and their method table.
//
// They are plain CPython methods (vectorcall, METH_O) rather than pybind11
// functions: a DummyPool call must cost less than pyMOR's pure-Python one
// (0.44 us), and pybind11's argument dispatch alone costs about that. The
// keyword names tuple of the caller is passed on to the function unchanged.
#include "pool_call.hpp"

#include <scatterpool/forced_unwind.hpp>

namespace scatterpool::bindings {

namespace {

template <CallKind kind>
PyObject* pool_call(PyObject* self, PyObject* const* args, Py_ssize_t nargsf, PyObject* kwnames) {
    try {
        PyPool& p = self_pool(self);
        p.pool->check_open();
        CallRequest request;
        parse_call(kind, *p.pool, args, nargsf, kwnames, request);
        return run_call(p, request);
    }
    SCATTERPOOL_PASS_FORCED_UNWIND  // a daemon thread ended at exit inside f
    catch (...) {
        translate_current_exception();
        return nullptr;
    }
}

template <class F> PyCFunction as_cfunction(F* f) {
    return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f));
}

PyMethodDef g_methods[] = {
    {"apply", as_cfunction(pool_call<CallKind::apply>), METH_FASTCALL | METH_KEYWORDS,
     "apply($self, function, /, *args, **kwargs)\n--\n\n"
     "Runs function(*args, **kwargs) once on every worker and returns the results in worker order.\n"
     "A RemoteObject argument (positional or keyword) arrives as that worker's object; on a pool of\n"
     "several workers every worker gets its own copy of the other arguments."},
    {"apply_only", as_cfunction(pool_call<CallKind::apply_only>), METH_FASTCALL | METH_KEYWORDS,
     "apply_only($self, function, worker, /, *args, **kwargs)\n--\n\n"
     "Runs function(*args, **kwargs) on one worker and returns its result (arguments as in apply)."},
    {"map", as_cfunction(pool_call<CallKind::map>), METH_FASTCALL | METH_KEYWORDS,
     "map($self, function, /, *sequences, **kwargs)\n--\n\n"
     "function(*items, **kwargs) for the items of the sequences taken together (equal lengths), split\n"
     "evenly into one chunk per worker; returns the results in the order of the input. A RemoteObject\n"
     "goes as a keyword argument."},
    {"push", push_object, METH_O,
     "push($self, obj, /)\n--\n\n"
     "Gives every worker its own deep copy of obj. An immutable object (scatterpool.Immutable,\n"
     "pyMOR's ImmutableObject) is not copied and is sent once: pushing it again returns another\n"
     "counted handle to the object already there."},
    {"scatter_list", scatter_sequence, METH_O,
     "scatter_list($self, l, /)\n--\n\n"
     "Gives worker i the list l[offsets[i]:offsets[i + 1]], offsets = even_split(len(l), len(pool))."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

void install_pool_methods(py::handle pool_type) {
    auto* type = reinterpret_cast<PyTypeObject*>(pool_type.ptr());
    for (PyMethodDef* def = g_methods; def->ml_name != nullptr; ++def) {
        py::object descriptor = py::reinterpret_steal<py::object>(PyDescr_NewMethod(type, def));
        if (!descriptor) {
            throw py::error_already_set();
        }
        pool_type.attr(def->ml_name) = descriptor;
    }
}

}  // namespace scatterpool::bindings
