// scatterpool: the even split of n items over k parts.
#pragma once

#include <cstddef>
#include <vector>

namespace scatterpool {

/// @brief First item of part @p i when @p n items are split over @p k parts.
///
/// The first `n % k` parts get one item more than the others (the rule of
/// `numpy.array_split`), so sizes differ by at most one and larger parts come
/// first. Never overflows: `i * (n / k) <= n` for every `i <= k`.
/// @pre `k > 0` and `i <= k`.
constexpr std::size_t split_begin(std::size_t n, std::size_t k, std::size_t i) noexcept {
    const std::size_t base = n / k;
    const std::size_t extra = n % k;
    return i * base + (i < extra ? i : extra);
}

/// @brief The `k + 1` offsets that split `0..n` into `k` contiguous parts.
///
/// Part `i` is `[offsets[i], offsets[i + 1])`. There are always exactly `k`
/// parts, empty ones included when `n < k`, because every worker expects one.
/// @param n number of items (any value a `std::size_t` holds).
/// @param k number of parts.
/// @return `k + 1` non-decreasing offsets, the first `0`, the last `n`.
/// @throws std::invalid_argument if `k == 0`.
std::vector<std::size_t> even_split(std::size_t n, std::size_t k);

}  // namespace scatterpool
