// scatterpool: the even split of n items over k parts.
#include <scatterpool/even_split.hpp>

#include <stdexcept>

namespace scatterpool {

std::vector<std::size_t> even_split(std::size_t n, std::size_t k) {
    if (k == 0) {
        throw std::invalid_argument("even_split: the number of parts must be at least 1, got 0");
    }
    std::vector<std::size_t> offsets(k + 1);
    for (std::size_t i = 0; i <= k; ++i) {
        offsets[i] = split_begin(n, k, i);
    }
    return offsets;
}

}  // namespace scatterpool
