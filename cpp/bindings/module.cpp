// scatterpool bindings: the extension module scatterpool._core.
#include "module_state.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "scatterpool's C++ core. Use the scatterpool package; this module is its private engine.";
    using namespace scatterpool::bindings;
    register_exceptions(m);
    register_split(m);
    register_buffer_cache(m);
    register_vector_array(m);
    register_remote_object(m);
    register_registry(m);
    register_worker_context(m);
    py::capsule state = make_module_state();
    m.attr("_state") = state;  // owns the hooks: they live as long as the module (and each pool)
    register_pools(m, state);
}
