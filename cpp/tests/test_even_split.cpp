// scatterpool tests: even_split, the split of n items over k parts.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <vector>

#include <scatterpool/even_split.hpp>

#include "check.hpp"

using scatterpool::even_split;

namespace {

// Every property the split promises, for one (n, k).
void check_split(std::size_t n, std::size_t k) {
    const std::vector<std::size_t> offsets = even_split(n, k);
    CHECK_EQ(offsets.size(), k + 1);
    CHECK_EQ(offsets.front(), std::size_t{0});
    CHECK_EQ(offsets.back(), n);
    const std::size_t small = n / k;
    const std::size_t large_parts = n % k;
    for (std::size_t i = 0; i < k; ++i) {
        CHECK(offsets[i] <= offsets[i + 1]);
        const std::size_t size = offsets[i + 1] - offsets[i];
        // sizes differ by at most one, and the larger parts come first
        CHECK_EQ(size, i < large_parts ? small + 1 : small);
        CHECK_EQ(offsets[i], scatterpool::split_begin(n, k, i));
    }
}

}  // namespace

TEST_CASE(even_split_small_cases) {
    for (std::size_t n = 0; n <= 40; ++n) {
        for (std::size_t k = 1; k <= 12; ++k) {
            check_split(n, k);
        }
    }
}

TEST_CASE(even_split_matches_array_split) {
    // numpy.array_split(range(10), 4) -> sizes 3, 3, 2, 2
    CHECK_EQ(even_split(10, 4), (std::vector<std::size_t>{0, 3, 6, 8, 10}));
    // pyMOR's ceil split would leave the last worker empty (2, 2, 1, 0)
    CHECK_EQ(even_split(5, 4), (std::vector<std::size_t>{0, 2, 3, 4, 5}));
}

TEST_CASE(even_split_fewer_items_than_parts) {
    CHECK_EQ(even_split(2, 5), (std::vector<std::size_t>{0, 1, 2, 2, 2, 2}));
    CHECK_EQ(even_split(0, 3), (std::vector<std::size_t>{0, 0, 0, 0}));
    check_split(3, 1000);
}

TEST_CASE(even_split_one_part) {
    CHECK_EQ(even_split(0, 1), (std::vector<std::size_t>{0, 0}));
    CHECK_EQ(even_split(17, 1), (std::vector<std::size_t>{0, 17}));
}

TEST_CASE(even_split_huge_n_does_not_overflow) {
    const std::size_t max = std::numeric_limits<std::size_t>::max();
    const std::size_t two63 = std::size_t{1} << 63;
    for (std::size_t n : {two63 - 1, two63, two63 + 1, two63 + 12345, max - 1, max}) {
        for (std::size_t k : std::initializer_list<std::size_t>{1, 2, 3, 7, 64, 1000}) {
            check_split(n, k);
        }
    }
    CHECK_EQ(even_split(max, 2), (std::vector<std::size_t>{0, two63, max}));
}

TEST_CASE(even_split_zero_parts_throws) {
    CHECK_THROWS_WITH(even_split(10, 0), std::invalid_argument, "at least 1");
    CHECK_THROWS(even_split(0, 0), std::invalid_argument);
}
