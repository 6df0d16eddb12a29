// scatterpool bindings: the arguments of apply, apply_only and map, read from
// a vectorcall.
#pragma once

#include "py_pool.hpp"

#include <cstddef>

namespace scatterpool::bindings {

enum class CallKind { apply, apply_only, map };

/// One call as the caller wrote it. The pointers are borrowed from the
/// vectorcall, except the map sequences, which the request owns.
struct CallRequest {
    CallKind kind = CallKind::apply;
    PyObject* function = nullptr;
    std::size_t worker = 0;           // apply_only
    PyObject* const* values = nullptr;  // the positional arguments after the fixed ones, then the keyword values
    std::size_t npos = 0;             // positional arguments passed on (map: the sequences)
    std::size_t nkw = 0;
    PyObject* kwnames = nullptr;      // the caller's tuple, passed on unchanged
    std::vector<PyObject*> sequences;  // map: PySequence_Fast of each positional argument (owned)
    std::size_t length = 0;            // map: the common length

    CallRequest() = default;
    CallRequest(const CallRequest&) = delete;
    CallRequest& operator=(const CallRequest&) = delete;
    ~CallRequest();
};

/// Reads a call of @p kind; throws (TypeError, IndexError, ValueError) for
/// arguments that break the contract.
void parse_call(CallKind kind, const Pool& pool, PyObject* const* args, Py_ssize_t nargsf, PyObject* kwnames,
                CallRequest& request);

}  // namespace scatterpool::bindings
