// scatterpool bindings: one call of apply, apply_only or map on a core pool,
// the execution path DummyPool and ThreadPool share.
#pragma once

#include "call_arguments.hpp"
#include "inline_vector.hpp"

#include <cstdint>
#include <vector>

namespace scatterpool::bindings {

/// Everything one call needs while its workers run it. On a ThreadPool it
/// lives until its workers are done (past the caller's return, if Ctrl-C
/// interrupted the wait). Destroyed with the GIL held.
///
/// The arguments are laid out in blocks, one per worker running the call
/// (apply_only: one block): slot 0 is scratch for PY_VECTORCALL_ARGUMENTS_OFFSET,
/// then the positional arguments, then the keyword values. Every slot holds
/// a strong reference, except map's positional slots, which are set per item
/// (borrowed from the sequences or from that worker's copies of them).
struct CallState {
    CallKind kind = CallKind::apply;
    bool takes_gil = false;       // tasks run on the pool's threads and take the GIL for their Python call
    std::size_t blocks = 0;       // workers running the call
    std::size_t only_worker = 0;  // apply_only: the worker of block 0
    std::size_t stride = 0;       // slots per block: 1 + positional + keywords
    std::size_t nargs = 0;        // positional arguments of each Python call
    PyObject* function = nullptr;
    PyObject* kwnames = nullptr;
    InlineVector<PyObject*, 16> argv;
    InlineVector<PyObject*, 2> results;  // apply, apply_only: one per block (new references)
    InlineVector<PyObject*, 2> errors;   // one per block (new references)
    // map
    std::vector<PyObject*> sequences;           // PySequence_Fast objects (owned)
    std::vector<std::size_t> offsets;           // block b maps items offsets[b]..offsets[b + 1]
    std::vector<PyObject* const*> items;        // item i of sequence s for block b: items[b * nseq + s][i - offsets[b]]
    std::vector<PyObject*> copies;              // the per-worker copies the items point into (owned)
    PyObject* map_results = nullptr;
    // Set when the caller's own share of apply or map on a ThreadPool (block 0,
    // which the calling thread runs) ended with an exception that is not an
    // Exception: KeyboardInterrupt from Ctrl-C landing in f, or what a signal
    // handler raised to end the program. The call then ends at once, the other
    // workers' shares abandoned, as when the signal arrives while the caller
    // waits (CallPoll, pool_call.cpp).
    bool caller_interrupted = false;

    // The task the core refers to; part of the state so that it lives as
    // long as the state, even after an interrupted call returned.
    struct Runner {
        CallState* state;
        void operator()(std::size_t w) const { state->run(w); }
    } runner{this};

    CallState() = default;
    CallState(const CallState&) = delete;
    CallState& operator=(const CallState&) = delete;
    ~CallState();

    std::size_t worker_of(std::size_t block) const noexcept {
        return kind == CallKind::apply_only ? only_worker : block;
    }
    void run(std::size_t w);

private:
    void run_block(std::size_t block);
    void record_error(std::size_t block);
};

/// Gives each block its arguments (the per-worker copy rule, worker_arguments.cpp).
void place_arguments(CallState& state, const PyPool& pool, const CallRequest& request);

/// Runs @p request on the pool; a new reference, or null with an exception set
/// (a C++ exception for a broken rule).
PyObject* run_call(PyPool& pool, CallRequest& request);

}  // namespace scatterpool::bindings
