// scatterpool example: scatter vectors over a ThreadPool and compute their norms on the workers.
#include <scatterpool/scatterpool.hpp>
#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    using scatterpool::VectorArray;
    VectorArray U = VectorArray::uninitialized(1000, 4);  // 1000 vectors of dimension 4, as rows
    for (std::size_t i = 0; i < U.len(); ++i)
        for (std::size_t j = 0; j < U.dim(); ++j) U.row<double>(i)[j] = static_cast<double>(i);  // norm 2i
    scatterpool::ThreadPool pool(4);               // 4 workers; worker 0 is this thread
    auto parts = pool.scatter(U, /*copy=*/false);  // worker w gets a view of its rows; U is left empty
    auto norms = pool.apply([](std::size_t, const VectorArray& part) {  // on every worker at once
        std::vector<double> out(part.len());
        for (std::size_t i = 0; i < part.len(); ++i) {
            for (std::size_t j = 0; j < part.dim(); ++j) out[i] += std::pow(part.row<double>(i)[j], 2);
            out[i] = std::sqrt(out[i]);
        }
        return out;
    }, parts);                                     // one result per worker, in worker order
    for (std::size_t w = 0; w < norms.size(); ++w) {
        std::printf("worker %zu: %zu norms, %g .. %g\n", w, norms[w].size(), norms[w].front(), norms[w].back());
    }
}
