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

}  // namespace

PyRef::~PyRef() {
    if (object_ == nullptr || !Py_IsInitialized()) {
        return;  // after finalization there is nothing left to release
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
    PyEval_RestoreThread(state_);
}

GilTurn::GilTurn() : owns_turn_(take_turn()) {
    if (t_released != nullptr) {
        PyEval_RestoreThread(t_released);
    } else if (t_worker_state != nullptr) {
        PyEval_RestoreThread(t_worker_state);
    } else {
        t_worker_gilstate = PyGILState_Ensure();
        t_worker_state = PyThreadState_Get();
    }
}

GilTurn::~GilTurn() {
    PyEval_SaveThread();
    if (owns_turn_) {
        g_turn.store(false, std::memory_order_release);
    }
}

void release_worker_thread_state() noexcept {
    if (t_worker_state == nullptr) {
        return;
    }
#if PY_VERSION_HEX >= 0x030D0000
    const bool finalizing = Py_IsFinalizing();
#else
    const bool finalizing = _Py_IsFinalizing();
#endif
    if (Py_IsInitialized() && !finalizing) {
        PyEval_RestoreThread(t_worker_state);
        PyGILState_Release(t_worker_gilstate);  // deletes the state and lets go of the GIL
    }
    t_worker_state = nullptr;
}

}  // namespace scatterpool::bindings
