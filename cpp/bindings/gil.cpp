// scatterpool bindings: taking and releasing the GIL from pool threads.
#include "bindings.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace scatterpool::bindings {

namespace {

// The state a caller saved while its GIL is released (see ReleaseGil).
thread_local PyThreadState* t_released = nullptr;

// A pool worker thread's own interpreter state, made on its first call into
// Python and kept until the thread ends: making one per call costs microseconds.
thread_local PyThreadState* t_worker_state = nullptr;
thread_local PyGILState_STATE t_worker_gilstate;

// Set once the interpreter has begun to end this thread: it took the GIL back
// while the interpreter finalizes, and pthread_exit unwinds its stack. The
// destructors that run during that unwinding must not take the GIL again (a
// second pthread_exit from a destructor terminates the process) nor touch
// Python objects.
thread_local bool t_ending = false;

std::atomic<bool> g_turn{false};
constexpr auto kTurnSpin = std::chrono::microseconds(20);

void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

bool take_turn() noexcept {
    bool expected = false;
    if (g_turn.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
        return true;
    }
    const auto deadline = std::chrono::steady_clock::now() + kTurnSpin;
    for (;;) {
        for (int i = 0; i < 32; ++i) {
            expected = false;
            if (!g_turn.load(std::memory_order_relaxed) &&
                g_turn.compare_exchange_weak(expected, true, std::memory_order_acquire)) {
                return true;
            }
            relax();
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;  // the holder runs long or let go of the GIL: ask for the GIL anyway
        }
        std::this_thread::yield();  // the holder may be waiting for this CPU
    }
}

bool interpreter_finalizing() noexcept {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

}  // namespace

PyRef::~PyRef() {
    if (object_ == nullptr || !Py_IsInitialized()) {
        return;  // after finalization there is nothing left to release
    }
    if (t_ending || (interpreter_finalizing() && !PyGILState_Check())) {
        // Taking the GIL now would end this thread from inside a destructor
        // (which terminates the process): the reference is left to the
        // interpreter, which is going away.
        return;
    }
    PyGILState_STATE state = PyGILState_Ensure();
    Py_DECREF(object_);
    PyGILState_Release(state);
}

PyObject* py_value(const AnyObject& value) {
    PyRef* ref = value.get<PyRef>();
    if (ref == nullptr) {
        throw py::type_error("the remote object holds a C++ value, not a Python object");
    }
    return ref->get();
}

ReleaseGil::ReleaseGil() noexcept : state_(PyEval_SaveThread()), outer_(t_released) { t_released = state_; }

ReleaseGil::~ReleaseGil() noexcept(false) {
    t_released = outer_;
    if (t_ending) {
        return;  // being unwound by pthread_exit: taking the GIL again would call it a second time
    }
    PyEval_RestoreThread(state_);  // may end this thread (pthread_exit) if the interpreter finalizes
}

GilTurn::GilTurn() : owns_turn_(take_turn()) {
    try {
        if (t_released != nullptr) {
            PyEval_RestoreThread(t_released);
        } else if (t_worker_state != nullptr) {
            PyEval_RestoreThread(t_worker_state);
        } else {
            t_worker_gilstate = PyGILState_Ensure();
            t_worker_state = PyThreadState_Get();
        }
    } catch (...) {
        // Only pthread_exit's forced unwinding leaves the calls above: the
        // interpreter ends this thread, which gives its turn back first.
        t_ending = true;
        if (owns_turn_) {
            g_turn.store(false, std::memory_order_release);
        }
        throw;
    }
}

GilTurn::~GilTurn() {
    // Without the GIL here, the thread is being ended: Python code of the
    // task let go of the GIL and, taking it back while the interpreter
    // finalizes, was ended by pthread_exit, whose unwinding runs this.
    if (PyGILState_Check()) {
        PyEval_SaveThread();
    } else {
        t_ending = true;
    }
    if (owns_turn_) {
        g_turn.store(false, std::memory_order_release);
    }
}

void release_worker_thread_state() noexcept {
    if (t_worker_state == nullptr) {
        return;
    }
    if (Py_IsInitialized() && !interpreter_finalizing()) {
        PyEval_RestoreThread(t_worker_state);
        PyGILState_Release(t_worker_gilstate);  // deletes the state and lets go of the GIL
    }
    t_worker_state = nullptr;
}

}  // namespace scatterpool::bindings
