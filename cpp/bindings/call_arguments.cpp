// scatterpool bindings: the arguments of apply, apply_only and map.
//
// The same rules as the front end's check_worker and map_sequences
// (python/scatterpool/_base.py), in C for the hot path.
#include "call_arguments.hpp"

#include <string>

namespace scatterpool::bindings {

namespace {

const char* call_name(CallKind kind) {
    return kind == CallKind::apply ? "apply" : kind == CallKind::map ? "map" : "apply_only";
}

std::size_t parse_worker(PyObject* object, const Pool& pool) {
    if (!PyIndex_Check(object) || PyBool_Check(object)) {
        throw py::type_error(std::string("apply_only: worker must be an int, got ") + Py_TYPE(object)->tp_name);
    }
    py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(object));
    if (!index) {
        throw py::error_already_set();
    }
    int overflow = 0;
    const long long w = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (w == -1 && PyErr_Occurred()) {
        throw py::error_already_set();
    }
    if (overflow != 0 || w < 0 || static_cast<unsigned long long>(w) >= pool.size()) {
        // the number as the caller wrote it, however large
        const std::string shown = py::str(index).cast<std::string>();
        throw py::index_error("worker " + shown + " is not in the range 0.." + std::to_string(pool.size() - 1) +
                              " of this pool");
    }
    return static_cast<std::size_t>(w);
}

void parse_sequences(CallRequest& request) {
    if (request.npos == 0) {
        throw py::value_error("map needs at least one sequence, got none");
    }
    std::string lengths;
    bool differ = false;
    for (std::size_t i = 0; i < request.npos; ++i) {
        PyObject* argument = request.values[i];
        if (as_remote_handle(argument) != nullptr) {
            throw py::type_error(
                "map: the positional arguments are the sequences to map over; pass a RemoteObject as a keyword "
                "argument");
        }
        PyObject* fast = PySequence_Fast(argument, "map: arguments must be sequences");
        if (fast == nullptr) {
            throw py::error_already_set();
        }
        request.sequences.push_back(fast);
        const auto n = static_cast<std::size_t>(PySequence_Fast_GET_SIZE(fast));
        if (i == 0) {
            request.length = n;
        } else if (n != request.length) {
            differ = true;
        }
        lengths += (i == 0 ? "" : ", ") + std::to_string(n);
    }
    if (differ) {
        throw py::value_error("map: the sequences have different lengths (" + lengths + ")");
    }
}

}  // namespace

CallRequest::~CallRequest() {
    if (sequences.empty() || !PyGILState_Check()) {
        return;  // nothing held, or a thread the interpreter is ending (see ~CallState): left to it
    }
    for (PyObject* o : sequences) Py_DECREF(o);
}

void parse_call(CallKind kind, const Pool& pool, PyObject* const* args, Py_ssize_t nargsf, PyObject* kwnames,
                CallRequest& request) {
    const auto nargs = static_cast<std::size_t>(PyVectorcall_NARGS(nargsf));
    const std::size_t fixed = kind == CallKind::apply_only ? 2 : 1;
    if (nargs < fixed) {
        throw py::type_error(std::string(call_name(kind)) + "() needs " +
                             (fixed == 2 ? "a function and a worker" : "a function"));
    }
    request.kind = kind;
    request.function = args[0];
    if (kind == CallKind::apply_only) {
        request.worker = parse_worker(args[1], pool);
    }
    request.values = args + fixed;
    request.npos = nargs - fixed;
    request.kwnames = kwnames;
    request.nkw = kwnames == nullptr ? 0 : static_cast<std::size_t>(PyTuple_GET_SIZE(kwnames));
    if (kind == CallKind::map) {
        parse_sequences(request);
    }
}

}  // namespace scatterpool::bindings
