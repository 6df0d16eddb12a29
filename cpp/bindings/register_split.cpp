// scatterpool bindings: even_split.
#include "bindings.hpp"

#include <scatterpool/even_split.hpp>

namespace scatterpool::bindings {

void register_split(py::module_& m) {
    m.def(
        "even_split",
        [](long long n, long long k) {
            if (n < 0) {
                throw py::value_error("even_split: n must be >= 0, got " + std::to_string(n));
            }
            if (k <= 0) {
                throw py::value_error("even_split: k must be >= 1, got " + std::to_string(k));
            }
            return even_split(static_cast<std::size_t>(n), static_cast<std::size_t>(k));
        },
        py::arg("n"), py::arg("k"),
        "The k + 1 offsets that split range(n) into k contiguous parts whose sizes differ by at most\n"
        "one, the larger first (numpy.array_split's rule). Part i is offsets[i]:offsets[i + 1].");
}

}  // namespace scatterpool::bindings
