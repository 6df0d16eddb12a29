// scatterpool bindings: push and scatter_list, the per-object hot path.
//
// Plain CPython methods for the same reason as apply (pool_methods.cpp):
// pyMOR's pure-Python push costs about a microsecond beyond its deepcopy, and
// a pybind11 round trip with a list argument and a returned handle costs that
// alone. What needs Python judgement (is the object immutable? the deep
// copies) stays in Python: the push hook returns a key naming an immutable
// object (from its uid), or the list of per-worker copies.
#include "py_pool.hpp"

#include <scatterpool/forced_unwind.hpp>

namespace scatterpool::bindings {

PyObject* push_object(PyObject* self, PyObject* object) {
    try {
        PyPool& p = self_pool(self);
        Pool& pool = *p.pool;
        pool.check_open();
        const py::object& hook = p.state->push_values;
        if (!hook) {
            throw std::logic_error("scatterpool: the push hook is not set (import scatterpool)");
        }
        py::object n = py::int_(pool.size());
        PyObject* args[] = {object, n.ptr()};
        py::object values = py::reinterpret_steal<py::object>(PyObject_Vectorcall(hook.ptr(), args, 2, nullptr));
        if (!values) {
            throw py::error_already_set();
        }
        const std::shared_ptr<Registry>& registry = pool.registry();
        if (PyUnicode_Check(values.ptr())) {
            const auto key = values.cast<std::string>();
            return make_remote_object(RemoteHandle(registry, registry->add_shared(key, make_py_value(object))));
        }
        if (!PyList_Check(values.ptr()) || static_cast<std::size_t>(PyList_GET_SIZE(values.ptr())) != pool.size()) {
            throw py::type_error("scatterpool: the push hook must return a key (str) or one value per worker");
        }
        std::vector<AnyObject> per_worker;
        per_worker.reserve(pool.size());
        for (std::size_t w = 0; w < pool.size(); ++w) {
            per_worker.push_back(make_py_value(PyList_GET_ITEM(values.ptr(), static_cast<Py_ssize_t>(w))));
        }
        return make_remote_object(RemoteHandle(registry, registry->add(std::move(per_worker))));
    }
    SCATTERPOOL_PASS_FORCED_UNWIND  // the push hook and the sequence run Python code
    catch (...) {
        translate_current_exception();
        return nullptr;
    }
}

PyObject* scatter_sequence(PyObject* self, PyObject* sequence) {
    try {
        PyPool& p = self_pool(self);
        Pool& pool = *p.pool;
        pool.check_open();
        py::object fast = py::reinterpret_steal<py::object>(
            PySequence_Fast(sequence, "scatter_list takes a sequence (a list, tuple, range, ...)"));
        if (!fast) {
            throw py::error_already_set();
        }
        const auto n = static_cast<std::size_t>(PySequence_Fast_GET_SIZE(fast.ptr()));
        PyObject** items = PySequence_Fast_ITEMS(fast.ptr());
        const std::vector<std::size_t> offsets = even_split(n, pool.size());
        std::vector<AnyObject> parts;
        parts.reserve(pool.size());
        for (std::size_t w = 0; w < pool.size(); ++w) {
            const std::size_t begin = offsets[w];
            const std::size_t end = offsets[w + 1];
            py::object part = py::reinterpret_steal<py::object>(PyList_New(static_cast<Py_ssize_t>(end - begin)));
            if (!part) {
                throw py::error_already_set();
            }
            for (std::size_t i = begin; i < end; ++i) {
                PyList_SET_ITEM(part.ptr(), static_cast<Py_ssize_t>(i - begin), Py_NewRef(items[i]));
            }
            parts.push_back(make_py_value(part));
        }
        return make_remote_object(RemoteHandle(pool.registry(), pool.registry()->add(std::move(parts))));
    }
    SCATTERPOOL_PASS_FORCED_UNWIND  // the push hook and the sequence run Python code
    catch (...) {
        translate_current_exception();
        return nullptr;
    }
}

}  // namespace scatterpool::bindings
