// scatterpool tests: C functions as pool tasks (the entry point the Cython declarations use).
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include <scatterpool/c_task.hpp>
#include <scatterpool/vector_array.hpp>
#include <scatterpool/worker_context.hpp>

#include "check.hpp"
#include "pools.hpp"

using scatterpool::Pool;
using scatterpool::VectorArray;

namespace {

// What the Cython example does: each worker sums the squares of its part.
struct Norms {
    const std::vector<VectorArray>* parts;
    double* out;  // one slot per worker
};

extern "C" void squared_norm(std::size_t worker, void* data) {
    auto* job = static_cast<Norms*>(data);
    const VectorArray& part = (*job->parts)[worker];
    double sum = 0;
    for (std::size_t i = 0; i < part.len(); ++i) {
        for (std::size_t j = 0; j < part.dim(); ++j) {
            const double x = part.row<double>(i)[j];
            sum += x * x;
        }
    }
    job->out[worker] = sum;
}

extern "C" void record_worker(std::size_t worker, void* data) {
    const scatterpool::WorkerContext* context = scatterpool::current_worker();
    static_cast<std::size_t*>(data)[worker] = context != nullptr && context->index == worker ? worker + 1 : 0;
}

}  // namespace

TEST_CASE(run_all_c_reduces_per_worker) {
    scatterpool::test::for_each_pool([](Pool& pool) {
        VectorArray U = VectorArray::uninitialized(101, 3);
        double expected = 0;
        for (std::size_t i = 0; i < U.len(); ++i) {
            for (std::size_t j = 0; j < U.dim(); ++j) {
                const double x = static_cast<double>(i) - static_cast<double>(j);
                U.row<double>(i)[j] = x;
                expected += x * x;
            }
        }
        const std::vector<VectorArray> parts = pool.partition(U, false);
        std::vector<double> out(pool.size(), -1.0);
        Norms job{&parts, out.data()};
        scatterpool::run_all_c(pool, squared_norm, &job);
        double total = 0;
        for (double x : out) {
            CHECK(x >= 0.0);
            total += x;
        }
        CHECK_EQ(total, expected);
    });
}

TEST_CASE(run_c_in_worker_context) {
    scatterpool::test::for_each_pool([](Pool& pool) {
        std::vector<std::size_t> seen(pool.size(), 0);
        scatterpool::run_all_c(pool, record_worker, seen.data());
        for (std::size_t w = 0; w < pool.size(); ++w) {
            CHECK_EQ(seen[w], w + 1);
        }
        std::vector<std::size_t> one(pool.size(), 0);
        scatterpool::run_one_c(pool, pool.size() - 1, record_worker, one.data());
        CHECK_EQ(one.back(), pool.size());
        if (pool.size() > 1) {
            CHECK_EQ(one.front(), std::size_t{0});
        }
    });
}

TEST_CASE(run_c_errors) {
    scatterpool::test::for_each_pool([](Pool& pool) {
        std::vector<std::size_t> seen(pool.size(), 0);
        CHECK_THROWS_WITH(scatterpool::run_all_c(pool, nullptr, nullptr), std::invalid_argument, "null");
        CHECK_THROWS(scatterpool::run_one_c(pool, 0, nullptr, nullptr), std::invalid_argument);
        CHECK_THROWS(scatterpool::run_one_c(pool, pool.size(), record_worker, seen.data()), std::out_of_range);
        pool.close();
        CHECK_THROWS(scatterpool::run_all_c(pool, record_worker, seen.data()), scatterpool::PoolClosedError);
    });
}
