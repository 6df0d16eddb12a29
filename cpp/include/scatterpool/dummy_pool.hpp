// scatterpool: DummyPool, one worker that runs in the caller's thread.
#pragma once

#include <scatterpool/pool.hpp>

namespace scatterpool {

/// @brief One worker, run inline in the calling thread: the serial reference
/// for every other pool, and the cheapest way to run pool code without threads.
/// Several threads may call one DummyPool at once; each runs its own call.
class DummyPool final : public Pool {
public:
    DummyPool() : Pool(1) {}
    ~DummyPool() override { DummyPool::close(); }

    bool concurrent() const noexcept override { return false; }
    void run_all(Task task, Poll poll = {}) override;
    void run_one(std::size_t worker, Task task, Poll poll = {}) override;
    void close() override;
};

}  // namespace scatterpool
