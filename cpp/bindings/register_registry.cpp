// scatterpool bindings: Registry and the RemoteObject handles to its entries.
#include "bindings.hpp"

#include <memory>

#include <scatterpool/errors.hpp>

namespace scatterpool::bindings {

namespace {

std::vector<AnyObject> py_values(const py::list& values) {
    std::vector<AnyObject> out;
    out.reserve(values.size());
    for (const py::handle value : values) {
        out.push_back(make_py_value(value));
    }
    return out;
}

}  // namespace

py::object remote_object(RemoteHandle handle) {
    PyObject* o = make_remote_object(std::move(handle));
    if (o == nullptr) {
        throw py::error_already_set();
    }
    return py::reinterpret_steal<py::object>(o);
}

void register_registry(py::module_& m) {
    py::class_<Registry, std::shared_ptr<Registry>>(
        m, "Registry",
        "The objects of a pool's workers: for every id, one value per worker. Shared entries stand\n"
        "for immutable objects, keyed by their uid and counted. Thread-safe.")
        .def(py::init<std::size_t>(), py::arg("num_workers"))
        .def_property_readonly("num_workers", &Registry::num_workers)
        .def_property_readonly("uid", &Registry::uid)
        .def(
            "put",
            [](const std::shared_ptr<Registry>& self, const py::list& values) {
                return remote_object(RemoteHandle(self, self->add(py_values(values))));
            },
            py::arg("values"), "Stores one value per worker; returns the handle.")
        .def(
            "put_shared",
            [](const std::shared_ptr<Registry>& self, const std::string& key, const py::handle& value) {
                return remote_object(RemoteHandle(self, self->add_shared(key, make_py_value(value))));
            },
            py::arg("key"), py::arg("value"),
            "A counted handle to the shared entry for key, storing value for every worker if there is none.")
        .def(
            "acquire_shared",
            [](const std::shared_ptr<Registry>& self, const std::string& key) -> py::object {
                const auto id = self->acquire_shared(key);
                if (!id) {
                    return py::none();
                }
                return remote_object(RemoteHandle(self, *id));
            },
            py::arg("key"), "A counted handle to the shared entry for key, or None if there is none.")
        .def(
            "put_at",
            [](Registry& self, ObjectId id, const py::list& values) { self.add_with_id(id, py_values(values)); },
            py::arg("id"), py::arg("values"), "Stores values under a given id (a mirror of another registry).")
        .def(
            "get",
            [](const Registry& self, std::size_t worker, ObjectId id) {
                return py::reinterpret_borrow<py::object>(py_value(self.get(worker, id)));
            },
            py::arg("worker"), py::arg("id"))
        .def("contains", &Registry::contains, py::arg("id"))
        .def("handles", &Registry::handles, py::arg("id"))
        .def("release", &Registry::release, py::arg("id"),
             "Releases one handle to id; returns whether the entry went away.")
        .def("clear", &Registry::clear)
        .def("__len__", &Registry::size)
        .def(
            "set_erase_hook",
            [](Registry& self, const py::object& hook) {
                if (hook.is_none()) {
                    self.set_erase_hook(nullptr);
                    return;
                }
                auto ref = std::make_shared<PyRef>(hook.ptr());
                self.set_erase_hook([ref](ObjectId id) {
                    py::gil_scoped_acquire gil;
                    try {
                        py::handle(ref->get())(id);
                    } catch (py::error_already_set& e) {
                        e.discard_as_unraisable("scatterpool Registry erase hook");
                    }
                });
            },
            py::arg("hook"), "Calls hook(id) after an entry goes away; None removes the hook.");
}

}  // namespace scatterpool::bindings
