// scatterpool tests: every kind of pool, for tests that run on each.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <scatterpool/dummy_pool.hpp>
#include <scatterpool/pool.hpp>
#include <scatterpool/thread_pool.hpp>

#include "check.hpp"

namespace scatterpool::test {

/// @brief More workers than the machine has cores (the threads then share them).
inline std::size_t oversubscribed() {
    return 2 * std::max<std::size_t>(1, std::thread::hardware_concurrency()) + 1;
}

/// @brief A name and a maker for each pool the contract tests run on:
/// DummyPool, and ThreadPool with 1, 2, 3 and more workers than cores.
inline std::vector<std::pair<std::string, std::function<std::unique_ptr<Pool>()>>> pool_kinds() {
    std::vector<std::pair<std::string, std::function<std::unique_ptr<Pool>()>>> kinds;
    kinds.emplace_back("DummyPool", [] { return std::make_unique<DummyPool>(); });
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{3}, oversubscribed()}) {
        kinds.emplace_back("ThreadPool(" + std::to_string(n) + ")",
                           [n] { return std::make_unique<ThreadPool>(n); });
    }
    return kinds;
}

/// @brief Calls @p test with a fresh pool of every kind, named in failure messages.
template <class F> void for_each_pool(F test) {
    for (const auto& [name, make] : pool_kinds()) {
        Context context(name);
        std::unique_ptr<Pool> pool = make();
        test(*pool);
    }
}

}  // namespace scatterpool::test
