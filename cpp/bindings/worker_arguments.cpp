// scatterpool bindings: which object each worker gets for each argument.
//
// The rule (the contract's "arguments behave as if sent"): a RemoteObject
// argument, positional or keyword, arrives as that worker's object. On a pool
// of several workers every worker running the call, worker 0 included, gets
// its own copy of the other arguments, all of one worker's copies made
// together, as one object graph (aliasing between arguments is kept, as a
// pickle of the call keeps it); the caller's objects are never handed to a
// worker. A pool of one worker passes them as they are.
//
// What may be shared and how copies are made is Python's judgement (the
// copier hook). Here only the common shareable values are recognised, so that
// a call whose arguments are all ints, strings, immutables or read-only
// arrays never calls into Python.
#include "pool_call.hpp"

#include <pybind11/numpy.h>

namespace scatterpool::bindings {

namespace {

bool is_read_only_array(PyObject* value) {
    const auto& api = py::detail::npy_api::get();
    return api.PyArray_Check_(value) &&
           (py::detail::array_proxy(value)->flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_) == 0;
}

// Whether every worker may get @p value itself: immutable builtins, the types
// the Python side found immutable (state.shared_types), read-only NumPy arrays.
// False means "ask the copier", which may still share it.
bool shareable(PyObject* value, const ModuleState& state) {
    PyTypeObject* type = Py_TYPE(value);
    if (type == &PyLong_Type || type == &PyUnicode_Type || type == &PyFloat_Type || value == Py_None ||
        type == &PyBool_Type || type == &PyBytes_Type || type == &PyComplex_Type || type == &PyFunction_Type ||
        type == &PyCFunction_Type || type == &PyRange_Type || type == &PySlice_Type || type == &PyModule_Type ||
        PyType_Check(value) || value == Py_Ellipsis || value == Py_NotImplemented) {
        return true;
    }
    PyObject* known = PyDict_GetItem(state.shared_types.ptr(), reinterpret_cast<PyObject*>(type));  // borrowed
    if (known == Py_True) {
        return true;
    }
    return is_read_only_array(value);
}

// copier(values, n): None, or n tuples as long as values.
py::object call_copier(const ModuleState& state, const py::tuple& values, std::size_t n) {
    if (!state.copier) {
        throw std::logic_error("scatterpool: the copier hook is not set (import scatterpool)");
    }
    py::object copies = state.copier(values, n);
    if (copies.is_none()) {
        return copies;
    }
    if (!PyList_Check(copies.ptr()) || static_cast<std::size_t>(PyList_GET_SIZE(copies.ptr())) != n) {
        throw py::type_error("scatterpool: the copier must return None or a list with one tuple per worker");
    }
    for (std::size_t i = 0; i < n; ++i) {
        PyObject* copy = PyList_GET_ITEM(copies.ptr(), static_cast<Py_ssize_t>(i));
        if (!PyTuple_Check(copy) || PyTuple_GET_SIZE(copy) != PyTuple_GET_SIZE(values.ptr())) {
            throw py::type_error("scatterpool: the copier must return tuples as long as its values");
        }
    }
    return copies;
}

}  // namespace

void place_arguments(CallState& s, const PyPool& p, const CallRequest& request) {
    const Pool& pool = *p.pool;
    const ModuleState& state = *p.state;
    const bool copies_wanted = pool.size() > 1;
    const bool map = request.kind == CallKind::map;
    // The arguments passed with each call: map's positional ones are its sequences.
    const std::size_t first = map ? request.npos : 0;
    const std::size_t count = request.npos + request.nkw;

    InlineVector<RemoteHandle*, 16> remote;
    remote.assign(count, nullptr);
    std::size_t plain = 0;
    bool ask_copier = false;
    for (std::size_t k = first; k < count; ++k) {
        PyObject* value = request.values[k];
        if (RemoteHandle* handle = as_remote_handle(value)) {
            pool.check_handle(*handle);
            remote[k] = handle;
        } else {
            ++plain;
            ask_copier = ask_copier || (copies_wanted && !shareable(value, state));
        }
    }
    if (map && copies_wanted) {
        for (std::size_t sq = 0; sq < s.sequences.size() && !ask_copier; ++sq) {
            PyObject* fast = s.sequences[sq];
            PyObject** items = PySequence_Fast_ITEMS(fast);
            const Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
            for (Py_ssize_t i = 0; i < n && !ask_copier; ++i) {
                ask_copier = !shareable(items[i], state);
            }
        }
    }

    // Each block's copies: a tuple of its plain values (then, for map, its
    // chunk of each sequence), or null to pass the caller's objects.
    std::vector<py::object> block_copies;
    if (ask_copier) {
        block_copies.resize(s.blocks);
    }
    if (ask_copier && !map) {
        py::tuple values(plain);
        std::size_t j = 0;
        for (std::size_t k = first; k < count; ++k) {
            if (remote[k] == nullptr) {
                values[j++] = py::handle(request.values[k]);
            }
        }
        py::object copies = call_copier(state, values, s.blocks);
        if (!copies.is_none()) {
            for (std::size_t b = 0; b < s.blocks; ++b) {
                PyObject* copy = PyList_GET_ITEM(copies.ptr(), static_cast<Py_ssize_t>(b));
                block_copies[b] = py::reinterpret_borrow<py::object>(copy);
            }
        }
    } else if (ask_copier) {
        const std::size_t nseq = s.sequences.size();
        for (std::size_t b = 0; b < s.blocks; ++b) {
            const std::size_t begin = s.offsets[b];
            const std::size_t chunk = s.offsets[b + 1] - begin;
            py::tuple values(plain + nseq * chunk);
            std::size_t j = 0;
            for (std::size_t k = first; k < count; ++k) {
                if (remote[k] == nullptr) {
                    values[j++] = py::handle(request.values[k]);
                }
            }
            for (PyObject* fast : s.sequences) {
                for (std::size_t i = 0; i < chunk; ++i) {
                    values[j++] = py::handle(PySequence_Fast_ITEMS(fast)[begin + i]);
                }
            }
            py::object copies = call_copier(state, values, 1);
            block_copies[b] = copies.is_none() ? py::object(values)
                                               : py::reinterpret_borrow<py::object>(PyList_GET_ITEM(copies.ptr(), 0));
        }
    }

    if (map) {
        s.items.reserve(s.blocks * s.sequences.size());
    }
    for (std::size_t b = 0; b < s.blocks; ++b) {
        const std::size_t w = s.worker_of(b);
        PyObject** slots = s.argv.data() + b * s.stride + 1;
        const bool copied = ask_copier && block_copies[b];
        PyObject* const* own = copied ? &PyTuple_GET_ITEM(block_copies[b].ptr(), 0) : nullptr;
        std::size_t j = 0;
        for (std::size_t k = first; k < count; ++k) {
            PyObject* value = request.values[k];
            if (remote[k] != nullptr) {
                value = py_value(pool.registry()->get(w, remote[k]->id()));
            } else if (own != nullptr) {
                value = own[j++];
            }
            slots[k] = Py_NewRef(value);
        }
        if (map) {
            const std::size_t begin = s.offsets[b];
            const std::size_t chunk = s.offsets[b + 1] - begin;
            for (std::size_t sq = 0; sq < s.sequences.size(); ++sq) {
                s.items.push_back(own != nullptr ? own + plain + sq * chunk
                                                 : PySequence_Fast_ITEMS(s.sequences[sq]) + begin);
            }
            if (copied) {
                s.copies.push_back(block_copies[b].release().ptr());
            }
        }
    }
}

}  // namespace scatterpool::bindings
