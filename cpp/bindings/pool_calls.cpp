// scatterpool bindings: apply, apply_only and map, the per-call hot path.
//
// These three are plain CPython vectorcall methods rather than pybind11
// functions: a DummyPool call must cost less than pyMOR's pure-Python one
// (0.44 us), and pybind11's argument dispatch alone costs about that. The
// keyword names tuple of the caller is passed on to the function unchanged;
// only the values of RemoteObject keywords are swapped for the worker's object.
//
// DummyPool runs the function inline with the GIL held. ThreadPool builds a
// CallState (per-worker argument vectors with strong references), lets go of
// the GIL, and runs the core call; each worker takes the GIL for its Python
// call only (GilTurn). If Ctrl-C interrupts the wait, the state is kept alive
// until the workers are done (PyPool::interrupted).
#include "py_pool.hpp"

#include <algorithm>
#include <array>

#include <scatterpool/errors.hpp>

namespace scatterpool::bindings {

namespace {

PyObject* g_copier = nullptr;  // strong reference, kept for the life of the process

enum class CallKind { apply, apply_only, map };

// A Python exception fetched with its traceback (a new reference).
PyObject* fetch_exception() {
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

void restore_exception(PyObject* value) {  // steals value
    PyObject* traceback = PyException_GetTraceback(value);
    PyErr_Restore(Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(value))), value, traceback);
}

struct Interrupted {
    PyObject* exception;  // owned
};

}  // namespace

void SignalPoll::operator()() const {
    GilTurn gil;
    if (PyErr_CheckSignals() != 0) {
        throw Interrupted{fetch_exception()};
    }
}

/// Everything one ThreadPool call needs; lives until its workers are done.
/// Destroyed with the GIL held.
struct CallState {
    CallKind kind = CallKind::apply;
    std::size_t workers = 0;
    std::size_t stride = 0;    // slots per worker in argv: 1 + positional + keywords
    std::size_t nargs = 0;     // positional arguments of each Python call
    PyObject* function = nullptr;
    PyObject* kwnames = nullptr;
    std::vector<PyObject*> argv;        // workers * stride, strong references (slot 0 of each empty)
    std::vector<AnyObject> held;        // keeps the remote objects behind borrowed argv entries alive
    std::vector<std::uint8_t> borrowed; // argv entries that are not strong references
    std::vector<PyObject*> results;     // apply: one per worker (new references)
    std::vector<PyObject*> errors;      // one per worker
    // map
    std::vector<PyObject*> sequences;   // PySequence_Fast objects
    std::vector<std::size_t> offsets;
    PyObject* map_results = nullptr;

    // The task the core refers to; part of the state so that it lives as
    // long as the state, even after an interrupted call returned.
    struct Runner {
        CallState* state;
        void operator()(std::size_t w) const { state->run(w); }
    } runner{this};

    ~CallState() {
        for (std::size_t i = 0; i < argv.size(); ++i) {
            if (!borrowed[i]) {
                Py_XDECREF(argv[i]);
            }
        }
        for (PyObject* o : results) Py_XDECREF(o);
        for (PyObject* o : errors) Py_XDECREF(o);
        for (PyObject* o : sequences) Py_XDECREF(o);
        Py_XDECREF(map_results);
        Py_XDECREF(function);
        Py_XDECREF(kwnames);
    }

    void run(std::size_t w) {
        GilTurn gil;
        PyObject** args = argv.data() + w * stride;
        if (kind != CallKind::map) {
            PyObject* r = PyObject_Vectorcall(function, args + 1, nargs | PY_VECTORCALL_ARGUMENTS_OFFSET, kwnames);
            if (r == nullptr) {
                errors[w] = fetch_exception();
            } else {
                results[w] = r;
            }
            return;
        }
        for (std::size_t i = offsets[w]; i < offsets[w + 1]; ++i) {
            for (std::size_t s = 0; s < sequences.size(); ++s) {
                args[1 + s] = PySequence_Fast_ITEMS(sequences[s])[i];
            }
            PyObject* r = PyObject_Vectorcall(function, args + 1, nargs | PY_VECTORCALL_ARGUMENTS_OFFSET, kwnames);
            if (r == nullptr) {
                errors[w] = fetch_exception();  // this worker stops; the others finish their chunks
                return;
            }
            PyList_SET_ITEM(map_results, static_cast<Py_ssize_t>(i), r);
        }
    }
};

namespace {

// Raises the lowest worker's exception, naming the others in its notes.
PyObject* raise_errors(std::vector<PyObject*>& errors) {
    const auto first = std::find_if(errors.begin(), errors.end(), [](PyObject* e) { return e != nullptr; });
    PyObject* exception = *first;
    *first = nullptr;
    for (auto it = first + 1; it != errors.end(); ++it) {
        if (*it == nullptr) {
            continue;
        }
        const auto worker = static_cast<long>(it - errors.begin());
        PyObject* note = PyUnicode_FromFormat("worker %ld also raised %s: %S", worker, Py_TYPE(*it)->tp_name, *it);
        if (note != nullptr) {
            PyObject* r = PyObject_CallMethod(exception, "add_note", "O", note);
            Py_XDECREF(r);
            Py_DECREF(note);
        }
        PyErr_Clear();  // a failed note must not hide the exception
    }
    restore_exception(exception);
    return nullptr;
}

// Puts worker w's object behind a RemoteObject keyword into slot (borrowed;
// held keeps it alive). Throws for a removed handle or another pool's.
void resolve_remote(Pool& pool, RemoteHandle* handle, std::size_t w, PyObject*& slot, std::vector<AnyObject>& held) {
    pool.check_handle(*handle);
    held.push_back(pool.registry()->get(w, handle->id()));
    slot = py_value(held.back());
}

std::size_t parse_worker(PyObject* object, const Pool& pool) {
    if (!PyIndex_Check(object) || PyBool_Check(object)) {
        throw py::type_error(std::string("apply_only: worker must be an int, got ") + Py_TYPE(object)->tp_name);
    }
    const Py_ssize_t w = PyNumber_AsSsize_t(object, nullptr);
    if (w == -1 && PyErr_Occurred()) {
        throw py::error_already_set();
    }
    if (w < 0) {
        throw std::out_of_range("worker " + std::to_string(w) + " is not in the range 0.." +
                                std::to_string(pool.size() - 1) + " of this pool");
    }
    pool.check_worker(static_cast<std::size_t>(w));
    return static_cast<std::size_t>(w);
}

// Inline call on the one worker of a DummyPool, with the GIL held.
PyObject* call_inline(PyPool& p, CallKind kind, PyObject* function, PyObject* const* args, std::size_t npos,
                      PyObject* kwnames, std::size_t nkw, std::vector<PyObject*>* sequences, std::size_t length) {
    Pool& pool = *p.pool;
    std::array<PyObject*, 16> small{};
    std::vector<PyObject*> large;
    const std::size_t slots = 1 + npos + nkw;
    PyObject** argv = small.data();
    if (slots > small.size()) {
        large.resize(slots);
        argv = large.data();
    }
    std::vector<AnyObject> held;
    for (std::size_t i = 0; i < npos; ++i) {
        argv[1 + i] = args[i];
    }
    for (std::size_t j = 0; j < nkw; ++j) {
        PyObject* value = args[npos + j];
        argv[1 + npos + j] = value;
        if (RemoteHandle* handle = as_remote_handle(value)) {
            resolve_remote(pool, handle, 0, argv[1 + npos + j], held);
        }
    }
    const std::size_t nargs = npos;
    PyObject* result = nullptr;
    if (kind != CallKind::map) {
        auto task = [&](std::size_t) {
            result = PyObject_Vectorcall(function, argv + 1, nargs | PY_VECTORCALL_ARGUMENTS_OFFSET, kwnames);
        };
        pool.run_one(0, task);
        if (result == nullptr || kind == CallKind::apply_only) {
            return result;
        }
        PyObject* list = PyList_New(1);
        if (list == nullptr) {
            Py_DECREF(result);
            return nullptr;
        }
        PyList_SET_ITEM(list, 0, result);
        return list;
    }
    PyObject* list = PyList_New(static_cast<Py_ssize_t>(length));
    if (list == nullptr) {
        return nullptr;
    }
    bool ok = true;
    auto task = [&](std::size_t) {
        for (std::size_t i = 0; i < length; ++i) {
            for (std::size_t s = 0; s < sequences->size(); ++s) {
                argv[1 + s] = PySequence_Fast_ITEMS((*sequences)[s])[i];
            }
            PyObject* r = PyObject_Vectorcall(function, argv + 1, nargs | PY_VECTORCALL_ARGUMENTS_OFFSET, kwnames);
            if (r == nullptr) {
                ok = false;
                return;
            }
            PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), r);
        }
    };
    pool.run_one(0, task);
    if (!ok) {
        Py_DECREF(list);
        return nullptr;
    }
    return list;
}

// A per-worker copy of a plain argument for worker w (a new reference), or
// the argument itself; copies[w] from copier(obj, n) when it returned a list.
std::vector<PyObject*> worker_copies(PyObject* value, std::size_t workers) {
    std::vector<PyObject*> out(workers, value);
    if (g_copier == nullptr || workers < 2) {
        for (auto& o : out) Py_INCREF(o);
        return out;
    }
    PyObject* n = PyLong_FromSize_t(workers);
    if (n == nullptr) {
        throw py::error_already_set();
    }
    PyObject* copies = PyObject_CallFunctionObjArgs(g_copier, value, n, nullptr);
    Py_DECREF(n);
    if (copies == nullptr) {
        throw py::error_already_set();
    }
    if (copies == Py_None) {
        Py_DECREF(copies);
        for (auto& o : out) Py_INCREF(o);
        return out;
    }
    if (!PyList_Check(copies) || static_cast<std::size_t>(PyList_GET_SIZE(copies)) != workers) {
        Py_DECREF(copies);
        throw py::type_error("scatterpool: the copier must return None or a list with one object per worker");
    }
    for (std::size_t w = 0; w < workers; ++w) {
        out[w] = Py_NewRef(PyList_GET_ITEM(copies, static_cast<Py_ssize_t>(w)));
    }
    Py_DECREF(copies);
    return out;
}

// ThreadPool call: prepare a CallState, release the GIL, run, collect.
PyObject* call_threads(PyPool& p, CallKind kind, std::size_t worker, PyObject* function, PyObject* const* args,
                       std::size_t npos, PyObject* kwnames, std::size_t nkw, std::vector<PyObject*>* sequences,
                       std::size_t length) {
    Pool& pool = *p.pool;
    drop_interrupted(p);
    auto state = std::make_shared<CallState>();
    CallState& s = *state;
    s.kind = kind;
    s.workers = pool.size();
    s.nargs = npos;
    s.stride = 1 + npos + nkw;
    s.function = Py_NewRef(function);
    s.kwnames = Py_XNewRef(kwnames);
    s.argv.assign(s.workers * s.stride, nullptr);
    s.borrowed.assign(s.argv.size(), 0);
    s.results.assign(s.workers, nullptr);
    s.errors.assign(s.workers, nullptr);
    // Only calls that run on several workers at once need their own copies.
    const bool copies = kind != CallKind::apply_only && pool.concurrent();
    const std::size_t n_copies = copies ? s.workers : 1;
    auto fill = [&](std::size_t slot, PyObject* value) {
        std::vector<PyObject*> per_worker = worker_copies(value, n_copies);
        for (std::size_t w = 0; w < s.workers; ++w) {
            s.argv[w * s.stride + slot] = per_worker[copies ? w : 0];
            if (w != 0 && !copies) {
                Py_INCREF(per_worker[0]);
            }
        }
    };
    if (kind == CallKind::map) {
        s.sequences = std::move(*sequences);
        sequences->clear();
        s.offsets = even_split(length, s.workers);
        s.map_results = PyList_New(static_cast<Py_ssize_t>(length));
        if (s.map_results == nullptr) {
            throw py::error_already_set();
        }
        for (std::size_t i = 0; i < npos; ++i) {
            for (std::size_t w = 0; w < s.workers; ++w) {
                s.borrowed[w * s.stride + 1 + i] = 1;  // set per item from the sequences
            }
        }
    } else {
        for (std::size_t i = 0; i < npos; ++i) {
            fill(1 + i, args[i]);
        }
    }
    for (std::size_t j = 0; j < nkw; ++j) {
        PyObject* value = args[npos + j];
        const std::size_t slot = 1 + npos + j;
        if (RemoteHandle* handle = as_remote_handle(value)) {
            for (std::size_t w = 0; w < s.workers; ++w) {
                resolve_remote(pool, handle, w, s.argv[w * s.stride + slot], s.held);
                s.borrowed[w * s.stride + slot] = 1;
            }
        } else {
            fill(slot, value);
        }
    }

    SignalPoll poll;
    try {
        ReleaseGil released;
        if (kind == CallKind::apply_only) {
            pool.run_one(worker, s.runner, poll);
        } else {
            pool.run_all(s.runner, poll);
        }
    } catch (Interrupted& interrupted) {
        // Workers may still run the call: keep its state (and the task
        // object the core refers to) until the next call waits for them.
        p.interrupted = state;
        restore_exception(interrupted.exception);
        return nullptr;
    }
    const bool any_error = std::any_of(s.errors.begin(), s.errors.end(), [](PyObject* e) { return e != nullptr; });
    if (any_error) {
        return raise_errors(s.errors);
    }
    if (kind == CallKind::apply_only) {
        return std::exchange(s.results[worker], nullptr);
    }
    if (kind == CallKind::map) {
        return std::exchange(s.map_results, nullptr);
    }
    PyObject* list = PyList_New(static_cast<Py_ssize_t>(s.workers));
    if (list == nullptr) {
        return nullptr;
    }
    for (std::size_t w = 0; w < s.workers; ++w) {
        PyList_SET_ITEM(list, static_cast<Py_ssize_t>(w), std::exchange(s.results[w], nullptr));
    }
    return list;
}

PyObject* dispatch(CallKind kind, PyObject* self, PyObject* const* args, Py_ssize_t nargsf, PyObject* kwnames) {
    const auto nargs = static_cast<std::size_t>(PyVectorcall_NARGS(nargsf));
    const std::size_t nkw = kwnames == nullptr ? 0 : static_cast<std::size_t>(PyTuple_GET_SIZE(kwnames));
    std::vector<PyObject*> sequences;
    try {
        PyPool& p = self_pool(self);
        Pool& pool = *p.pool;
        pool.check_open();
        const char* name = kind == CallKind::apply ? "apply" : kind == CallKind::map ? "map" : "apply_only";
        const std::size_t fixed = kind == CallKind::apply_only ? 2 : 1;
        if (nargs < fixed) {
            throw py::type_error(std::string(name) + "() needs " +
                                 (fixed == 2 ? "a function and a worker" : "a function"));
        }
        PyObject* function = args[0];
        std::size_t worker = 0;
        if (kind == CallKind::apply_only) {
            worker = parse_worker(args[1], pool);
        }
        const std::size_t npos = nargs - fixed;
        std::size_t length = 0;
        if (kind == CallKind::map) {
            if (npos == 0) {
                throw py::value_error("map needs at least one sequence, got none");
            }
            std::string lengths;
            bool differ = false;
            for (std::size_t i = 0; i < npos; ++i) {
                PyObject* fast = PySequence_Fast(args[fixed + i], "map: arguments must be sequences");
                if (fast == nullptr) {
                    throw py::error_already_set();
                }
                sequences.push_back(fast);
                const auto n = static_cast<std::size_t>(PySequence_Fast_GET_SIZE(fast));
                if (i == 0) {
                    length = n;
                } else if (n != length) {
                    differ = true;
                }
                lengths += (i == 0 ? "" : ", ") + std::to_string(n);
            }
            if (differ) {
                throw py::value_error("map: the sequences have different lengths (" + lengths + ")");
            }
        }
        PyObject* result = nullptr;
        if (p.threads == nullptr) {
            result = call_inline(p, kind, function, args + fixed, npos, kwnames, nkw, &sequences, length);
        } else {
            result = call_threads(p, kind, worker, function, args + fixed, npos, kwnames, nkw, &sequences, length);
        }
        for (PyObject* o : sequences) Py_DECREF(o);
        return result;
    } catch (...) {
        for (PyObject* o : sequences) Py_DECREF(o);
        translate_current_exception();
        return nullptr;
    }
}

PyObject* pool_apply(PyObject* self, PyObject* const* args, Py_ssize_t nargsf, PyObject* kwnames) {
    return dispatch(CallKind::apply, self, args, nargsf, kwnames);
}
PyObject* pool_apply_only(PyObject* self, PyObject* const* args, Py_ssize_t nargsf, PyObject* kwnames) {
    return dispatch(CallKind::apply_only, self, args, nargsf, kwnames);
}
PyObject* pool_map(PyObject* self, PyObject* const* args, Py_ssize_t nargsf, PyObject* kwnames) {
    return dispatch(CallKind::map, self, args, nargsf, kwnames);
}

PyMethodDef g_methods[] = {
    {"apply", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(pool_apply)),
     METH_FASTCALL | METH_KEYWORDS,
     "apply($self, function, /, *args, **kwargs)\n--\n\n"
     "Runs function(*args, **kwargs) once on every worker and returns the results in worker order.\n"
     "A RemoteObject keyword argument arrives as that worker's object."},
    {"apply_only", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(pool_apply_only)),
     METH_FASTCALL | METH_KEYWORDS,
     "apply_only($self, function, worker, /, *args, **kwargs)\n--\n\n"
     "Runs function(*args, **kwargs) on one worker and returns its result."},
    {"map", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(pool_map)), METH_FASTCALL | METH_KEYWORDS,
     "map($self, function, /, *sequences, **kwargs)\n--\n\n"
     "function(*items, **kwargs) for the items of the sequences taken together (equal lengths), split\n"
     "evenly into one chunk per worker; returns the results in the order of the input."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

void drop_interrupted(PyPool& self) {
    if (!self.interrupted) {
        return;
    }
    if (self.threads != nullptr) {
        SignalPoll poll;
        try {
            ReleaseGil released;
            self.threads->wait_idle(poll);
        } catch (Interrupted& interrupted) {
            restore_exception(interrupted.exception);
            throw py::error_already_set();
        }
    }
    self.interrupted.reset();
}

void set_copier(const py::object& copier) {
    Py_XDECREF(g_copier);
    g_copier = copier.is_none() ? nullptr : Py_NewRef(copier.ptr());
}

PyMethodDef* call_methods() noexcept { return g_methods; }

void install_methods(py::handle pool_type, PyMethodDef* methods) {
    auto* type = reinterpret_cast<PyTypeObject*>(pool_type.ptr());
    for (PyMethodDef* def = methods; def->ml_name != nullptr; ++def) {
        py::object descriptor = py::reinterpret_steal<py::object>(PyDescr_NewMethod(type, def));
        if (!descriptor) {
            throw py::error_already_set();
        }
        pool_type.attr(def->ml_name) = descriptor;
    }
}

}  // namespace scatterpool::bindings
