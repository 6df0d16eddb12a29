// scatterpool bindings: the module's state (see module_state.hpp).
#include "module_state.hpp"

#include <memory>

namespace scatterpool::bindings {

namespace {
constexpr const char* kName = "scatterpool._core.ModuleState";
}  // namespace

py::capsule make_module_state() {
    auto state = std::make_unique<ModuleState>();
    state->shared_types = py::dict();
    py::capsule capsule(state.get(), kName, [](void* pointer) { delete static_cast<ModuleState*>(pointer); });
    (void)state.release();
    return capsule;
}

ModuleState& module_state(py::handle capsule) {
    auto* state = static_cast<ModuleState*>(PyCapsule_GetPointer(capsule.ptr(), kName));
    if (state == nullptr) {
        throw py::error_already_set();
    }
    return *state;
}

}  // namespace scatterpool::bindings
