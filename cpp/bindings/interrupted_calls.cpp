// scatterpool bindings: Ctrl-C while a caller waits for a ThreadPool call.
//
// The caller polls for signals while it waits with the GIL released; a
// signal ends the wait with its exception, and the call's state stays with
// the pool (PyPool::interrupted) until its workers are done.
#include "py_pool.hpp"

#include <scatterpool/thread_pool.hpp>

namespace scatterpool::bindings {

void SignalPoll::operator()() const {
    GilTurn gil;
    if (PyErr_CheckSignals() != 0) {
        throw Interrupted{fetch_exception()};
    }
}

void drop_interrupted(PyPool& self) {
    if (!self.interrupted) {
        return;
    }
    // Only a pool whose calls run on its own threads can leave workers behind.
    if (auto* threads = dynamic_cast<ThreadPool*>(self.pool.get())) {
        SignalPoll poll;
        try {
            without_gil([&] { threads->wait_idle(poll); });
        } catch (Interrupted& interrupted) {
            restore_exception(interrupted.exception);
            throw py::error_already_set();
        }
    }
    self.interrupted.reset();
}

}  // namespace scatterpool::bindings
