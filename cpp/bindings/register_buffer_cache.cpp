// scatterpool bindings: the cache of large freed buffers (its policy and
// stats), and NumPy arrays whose memory comes from the core's allocator.
#include "bindings.hpp"

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include <scatterpool/buffer.hpp>
#include <scatterpool/buffer_cache.hpp>

namespace scatterpool::bindings {

namespace {

using Clock = BufferCache::Clock;

Clock::duration seconds_to_duration(double seconds, const char* what) {
    if (!(seconds >= 0)) {  // also NaN
        throw py::value_error(std::string(what) + " must be >= 0 seconds, got " + std::to_string(seconds));
    }
    const std::chrono::duration<double> s(seconds);
    if (s >= std::chrono::duration<double>(Clock::duration::max())) {
        return Clock::duration::max();  // inf: never idle
    }
    return std::chrono::duration_cast<Clock::duration>(s);
}

py::dict stats_dict() {
    const BufferCacheStats s = buffer_cache().stats();
    py::dict d;
    d["held_bytes"] = s.held_bytes;
    d["held_buffers"] = s.held_buffers;
    d["max_bytes"] = s.max_bytes;
    d["idle_seconds"] = s.idle_seconds;
    d["hits"] = s.hits;
    d["misses"] = s.misses;
    return d;
}

// An uninitialized C-ordered array of `shape` whose memory is a core buffer:
// when the array goes, the buffer goes back to the cache.
py::array empty_array(const std::vector<py::ssize_t>& shape, const py::object& dtype) {
    const py::dtype dt = py::dtype::from_args(dtype);
    std::size_t bytes = static_cast<std::size_t>(dt.itemsize());
    for (const py::ssize_t n : shape) {
        if (n < 0) {
            throw py::value_error("empty_array: negative dimension " + std::to_string(n));
        }
        const auto un = static_cast<std::size_t>(n);
        if (un != 0 && bytes > SIZE_MAX / un) {
            throw py::value_error("empty_array: the shape does not fit in memory");
        }
        bytes *= un;
    }
    auto* owner = new std::shared_ptr<void>(allocate_buffer(bytes, false));
    void* data = owner->get();
    py::capsule base(owner, [](void* p) { delete static_cast<std::shared_ptr<void>*>(p); });
    return py::array(dt, shape, data, base);
}

}  // namespace

void register_buffer_cache(py::module_& m) {
    m.def("buffer_cache_stats", &stats_dict,
          "The buffer cache now: held_bytes, held_buffers, max_bytes, idle_seconds, hits, misses.");
    m.def(
        "set_buffer_cache",
        [](const py::object& max_bytes, const py::object& idle_seconds) {
            std::optional<std::size_t> cap;
            std::optional<Clock::duration> idle;
            if (!max_bytes.is_none()) {
                const auto n = max_bytes.cast<long long>();
                if (n < 0) {
                    throw py::value_error("max_bytes must be >= 0, got " + std::to_string(n));
                }
                cap = static_cast<std::size_t>(n);
            }
            if (!idle_seconds.is_none()) {
                idle = seconds_to_duration(idle_seconds.cast<double>(), "idle_seconds");
            }
            py::gil_scoped_release release;  // may free large buffers
            if (cap) {
                buffer_cache().set_max_bytes(*cap);
            }
            if (idle) {
                buffer_cache().set_idle(*idle);
            }
        },
        py::arg("max_bytes") = py::none(), py::arg("idle_seconds") = py::none(),
        "Sets the cap on held bytes (0: off, frees what is held) and/or the idle time after which a\n"
        "held buffer is freed; None leaves a setting as it is.");
    m.def(
        "trim_buffer_cache",
        [](double idle_seconds) {
            const Clock::duration idle = seconds_to_duration(idle_seconds, "idle_seconds");
            py::gil_scoped_release release;
            buffer_cache().trim(idle);
        },
        py::arg("idle_seconds") = 0.0, "Frees the held buffers idle for idle_seconds or longer (0: all).");
    m.def("empty_array", &empty_array, py::arg("shape"), py::arg("dtype"),
          "An uninitialized C-ordered array whose memory comes from the core's allocator: large ones\n"
          "reuse a buffer from the cache, and go back to it when the array is freed.");
}

}  // namespace scatterpool::bindings
