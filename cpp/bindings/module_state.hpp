// scatterpool bindings: the module's state, the Python objects the hot paths
// call back into.
//
// They belong to the module object (a capsule in _core._state), not to a
// static: each pool holds a reference to the state, so it outlives them.
#pragma once

#include "bindings.hpp"

namespace scatterpool::bindings {

struct ModuleState {
    /// copier(values: tuple, n) -> list of n tuples | None: each worker's own
    /// copies of one call's plain arguments (one object graph per worker), or
    /// None when every value may be shared.
    py::object copier;
    /// push_values(obj, n) -> str | list: the registry key of an immutable
    /// object, else one copy per worker.
    py::object push_values;
    /// merge_errors(errors: dict[int, BaseException]) -> BaseException: the
    /// exception a call raises when workers raised.
    py::object merge_errors;
    /// {type: bool}: whether instances of a type may be shared as they are
    /// (immutables); filled by the Python side, read by the copy decision.
    py::object shared_types;
};

/// A new state, owned by the returned capsule.
py::capsule make_module_state();

/// The state owned by @p capsule.
ModuleState& module_state(py::handle capsule);

}  // namespace scatterpool::bindings
