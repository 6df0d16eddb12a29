// scatterpool bindings: one call of apply, apply_only or map, on DummyPool
// and ThreadPool alike.
//
// A DummyPool runs the call in the caller's thread with the GIL held. A
// ThreadPool lets go of the GIL while the caller waits, and each worker takes
// it for its Python call only (GilTurn). If Ctrl-C interrupts the wait, or
// lands in the caller's own share, the call ends at once and its state is
// kept alive until the workers are done (PyPool::interrupted).
#include "pool_call.hpp"

#include <memory>
#include <utility>

namespace scatterpool::bindings {

CallState::~CallState() {
    if (!PyGILState_Check()) {
        // Only a thread that the interpreter is ending (pthread_exit, at exit)
        // gets here without the GIL: dropping references without it could
        // free objects under the finalizing interpreter. Left to it.
        return;
    }
    for (std::size_t b = 0; b < blocks; ++b) {
        for (std::size_t k = 1; k < stride; ++k) {
            const bool borrowed = kind == CallKind::map && k <= nargs;
            if (!borrowed) {
                Py_XDECREF(argv[b * stride + k]);
            }
        }
    }
    for (PyObject* o : results) Py_XDECREF(o);
    for (PyObject* o : errors) Py_XDECREF(o);
    for (PyObject* o : sequences) Py_DECREF(o);
    for (PyObject* o : copies) Py_DECREF(o);
    Py_XDECREF(map_results);
    Py_XDECREF(function);
    Py_XDECREF(kwnames);
}

void CallState::run(std::size_t w) {
    const std::size_t block = kind == CallKind::apply_only ? 0 : w;
    if (takes_gil) {
        GilTurn gil;
        run_block(block);
    } else {
        run_block(block);
    }
}

void CallState::run_block(std::size_t block) {
    PyObject** args = argv.data() + block * stride;
    const auto flags = nargs | PY_VECTORCALL_ARGUMENTS_OFFSET;
    if (kind != CallKind::map) {
        PyObject* r = PyObject_Vectorcall(function, args + 1, flags, kwnames);
        if (r == nullptr) {
            record_error(block);
        } else {
            results[block] = r;
        }
        return;
    }
    const std::size_t nseq = sequences.size();
    PyObject* const* const* chunk = items.data() + block * nseq;
    const std::size_t begin = offsets[block];
    for (std::size_t i = begin; i < offsets[block + 1]; ++i) {
        for (std::size_t s = 0; s < nseq; ++s) {
            args[1 + s] = chunk[s][i - begin];
        }
        PyObject* r = PyObject_Vectorcall(function, args + 1, flags, kwnames);
        if (r == nullptr) {
            record_error(block);  // this worker stops; the others finish their chunks
            return;
        }
        PyList_SET_ITEM(map_results, static_cast<Py_ssize_t>(i), r);
    }
}

void CallState::record_error(std::size_t block) {
    PyObject* error = fetch_exception();
    errors[block] = error;
    if (block == 0 && takes_gil && kind != CallKind::apply_only && error != nullptr &&
        !PyErr_GivenExceptionMatches(error, PyExc_Exception)) {
        caller_interrupted = true;
    }
}

namespace {

// The caller's poll while it waits for the workers of a ThreadPool call: a
// pending signal's exception, or one that ended the caller's own share on its
// way out of the program (CallState::caller_interrupted), ends the wait.
struct CallPoll {
    CallState* state;
    void operator()() const {
        if (state->caller_interrupted) {
            state->caller_interrupted = false;
            throw Interrupted{std::exchange(state->errors[0], nullptr)};
        }
        SignalPoll{}();
    }
};

// Raises the exception merge_errors makes of the workers' ones (the rule
// lives in Python, once); the lowest worker's if there is no hook or it failed.
// errors[b] is the exception (owned, or null) of worker first_worker + b.
PyObject* raise_errors(PyObject** errors, std::size_t blocks, std::size_t first_worker, const ModuleState& state) {
    std::size_t lowest = blocks;
    for (std::size_t b = 0; b < blocks && lowest == blocks; ++b) {
        if (errors[b] != nullptr) {
            lowest = b;
        }
    }
    PyObject* merged = nullptr;
    if (state.merge_errors) {
        py::dict by_worker;
        for (std::size_t b = 0; b < blocks; ++b) {
            if (errors[b] != nullptr) {
                by_worker[py::int_(first_worker + b)] = py::handle(errors[b]);
            }
        }
        merged = PyObject_CallOneArg(state.merge_errors.ptr(), by_worker.ptr());
        if (merged != nullptr && !PyExceptionInstance_Check(merged)) {
            Py_CLEAR(merged);
            PyErr_SetString(PyExc_TypeError, "scatterpool: merge_errors must return an exception");
        }
        if (merged == nullptr) {
            PyErr_Clear();  // a broken hook must not hide the workers' exception
        }
    }
    if (merged == nullptr) {
        merged = std::exchange(errors[lowest], nullptr);
    }
    restore_exception(merged);
    return nullptr;
}

PyObject* collect(CallState& s, const ModuleState& state) {
    for (PyObject* e : s.errors) {
        if (e != nullptr) {
            return raise_errors(s.errors.data(), s.blocks, s.worker_of(0), state);
        }
    }
    if (s.kind == CallKind::apply_only) {
        return std::exchange(s.results[0], nullptr);
    }
    if (s.kind == CallKind::map) {
        return std::exchange(s.map_results, nullptr);
    }
    PyObject* list = PyList_New(static_cast<Py_ssize_t>(s.blocks));
    if (list == nullptr) {
        return nullptr;
    }
    for (std::size_t b = 0; b < s.blocks; ++b) {
        PyList_SET_ITEM(list, static_cast<Py_ssize_t>(b), std::exchange(s.results[b], nullptr));
    }
    return list;
}

void prepare(CallState& s, const PyPool& p, CallRequest& request) {
    const Pool& pool = *p.pool;
    s.kind = request.kind;
    s.takes_gil = !p.runs_in_caller;
    s.blocks = request.kind == CallKind::apply_only ? 1 : pool.size();
    s.only_worker = request.worker;
    s.nargs = request.npos;
    s.stride = 1 + request.npos + request.nkw;
    s.function = Py_NewRef(request.function);
    s.kwnames = Py_XNewRef(request.kwnames);
    s.argv.assign(s.blocks * s.stride, nullptr);
    s.results.assign(s.blocks, nullptr);
    s.errors.assign(s.blocks, nullptr);
    if (request.kind == CallKind::map) {
        s.sequences = std::move(request.sequences);
        request.sequences.clear();
        s.offsets = even_split(request.length, s.blocks);
        s.map_results = PyList_New(static_cast<Py_ssize_t>(request.length));
        if (s.map_results == nullptr) {
            throw py::error_already_set();
        }
    }
    place_arguments(s, p, request);
}

void start(Pool& pool, CallState& s, Pool::Poll poll) {
    if (s.kind == CallKind::apply_only) {
        pool.run_one(s.only_worker, s.runner, poll);
    } else {
        pool.run_all(s.runner, poll);
    }
}

// The references call_in_caller holds: the values of the RemoteObject
// arguments (f may drop such an object from the registry while it runs).
// The caller's own arguments are borrowed, as a vectorcall passes them.
struct HeldValues {
    PyObject** slots;
    std::uint32_t owned = 0;  // bit k: slots[k] is a strong reference
    ~HeldValues() {
        if (owned != 0 && !PyGILState_Check()) {
            return;  // a thread the interpreter is ending (see ~CallState): left to it
        }
        for (std::size_t k = 0; owned != 0; ++k, owned >>= 1) {
            if ((owned & 1U) != 0) {
                Py_DECREF(slots[k]);
            }
        }
    }
};

// The argument slots of call_in_caller, on the stack; a call with more
// arguments takes the shared path, whose slots grow on the heap.
constexpr std::size_t kInCallerSlots = 16;

// apply and apply_only on a pool that runs calls in the caller's thread
// (DummyPool): one worker, so nothing is copied and no state outlives the
// call. No allocation, no reference taken on the caller's arguments.
PyObject* call_in_caller(PyPool& p, const CallRequest& request) {
    Pool& pool = *p.pool;
    const std::size_t count = request.npos + request.nkw;
    PyObject* argv[kInCallerSlots];  // slot 0: scratch for PY_VECTORCALL_ARGUMENTS_OFFSET
    PyObject** slots = argv + 1;
    HeldValues held{slots};
    const std::size_t worker = request.kind == CallKind::apply_only ? request.worker : 0;
    for (std::size_t k = 0; k < count; ++k) {
        PyObject* value = request.values[k];
        if (RemoteHandle* handle = as_remote_handle(value)) {
            pool.check_handle(*handle);
            value = Py_NewRef(py_value(pool.registry()->get(worker, handle->id())));
            held.owned |= std::uint32_t{1} << k;
        }
        slots[k] = value;
    }
    PyObject* result = nullptr;
    auto task = [&](std::size_t) {
        result = PyObject_Vectorcall(request.function, slots, request.npos | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                     request.kwnames);
    };
    if (request.kind == CallKind::apply_only) {
        pool.run_one(worker, task);
    } else {
        pool.run_all(task);
    }
    if (result == nullptr) {
        PyObject* error = fetch_exception();
        raise_errors(&error, 1, worker, *p.state);
        Py_XDECREF(error);  // still ours unless raised as it is
        return nullptr;
    }
    if (request.kind == CallKind::apply_only) {
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

}  // namespace

PyObject* run_call(PyPool& p, CallRequest& request) {
    Pool& pool = *p.pool;
    if (p.runs_in_caller && request.kind != CallKind::map && 1 + request.npos + request.nkw <= kInCallerSlots) {
        return call_in_caller(p, request);
    }
    if (p.runs_in_caller) {
        CallState s;
        prepare(s, p, request);
        start(pool, s, {});
        return collect(s, *p.state);
    }
    drop_interrupted(p);
    auto state = std::make_shared<CallState>();
    prepare(*state, p, request);
    CallPoll poll{state.get()};
    try {
        without_gil([&] { start(pool, *state, poll); });
    } catch (Interrupted& interrupted) {
        // Workers may still run the call: keep its state (and the task
        // object the core refers to) until the next call waits for them.
        p.interrupted = state;
        restore_exception(interrupted.exception);
        return nullptr;
    }
    return collect(*state, *p.state);
}

}  // namespace scatterpool::bindings
