// scatterpool bindings: RemoteObject, the Python handle to a registry entry.
//
// A plain CPython type rather than a pybind11 class: every push creates one
// and every call looks one up, and pybind11 instances cost a registration in
// its instance map on creation and a type lookup on each cast.
//
// It can be subclassed (scatterpool.pymor's handle is also pyMOR's), so the
// deallocator frees through the instance's own type (a subclass with a
// __dict__ is garbage-collected and allocated with a GC header) and drops the
// reference a heap type's instance holds to it. A subclass instance is made
// by adopt() from a pool's fresh handle, never by calling the class.
#include "bindings.hpp"

#include <cstddef>
#include <new>

#include <structmember.h>

namespace scatterpool::bindings {

namespace {

struct PyRemoteObject {
    PyObject_HEAD
    RemoteHandle handle;
    PyObject* weakrefs;
};

PyTypeObject* g_type = nullptr;  // strong reference held by the module

void remote_dealloc(PyObject* self) {
    auto* o = reinterpret_cast<PyRemoteObject*>(self);
    PyTypeObject* type = Py_TYPE(self);
    if (o->weakrefs != nullptr) {
        PyObject_ClearWeakRefs(self);
    }
    o->handle.~RemoteHandle();  // a collected handle is removed
    type->tp_free(self);
    Py_DECREF(type);
}

PyObject* remote_remove(PyObject* self, PyObject*) {
    reinterpret_cast<PyRemoteObject*>(self)->handle.remove();
    Py_RETURN_NONE;
}

PyObject* remote_enter(PyObject* self, PyObject*) { return Py_NewRef(self); }

PyObject* remote_exit(PyObject* self, PyObject*) {
    reinterpret_cast<PyRemoteObject*>(self)->handle.remove();
    Py_RETURN_FALSE;
}

// Removed by this handle, or freed with every other object when its pool closed.
bool gone(const RemoteHandle& handle) { return handle.removed() || !handle.registry()->contains(handle.id()); }

PyObject* remote_removed(PyObject* self, void*) {
    try {
        return PyBool_FromLong(gone(reinterpret_cast<PyRemoteObject*>(self)->handle) ? 1 : 0);
    } catch (...) {
        translate_current_exception();
        return nullptr;
    }
}

PyObject* remote_id(PyObject* self, void*) {
    return PyLong_FromUnsignedLongLong(reinterpret_cast<PyRemoteObject*>(self)->handle.id());
}

PyObject* remote_registry(PyObject* self, void*) {
    try {
        return py::cast(reinterpret_cast<PyRemoteObject*>(self)->handle.registry()).release().ptr();
    } catch (...) {
        translate_current_exception();
        return nullptr;
    }
}

PyObject* remote_repr(PyObject* self) {
    const RemoteHandle& h = reinterpret_cast<PyRemoteObject*>(self)->handle;
    try {
        return PyUnicode_FromFormat("<RemoteObject %llu%s>", static_cast<unsigned long long>(h.id()),
                                    gone(h) ? " (removed)" : "");
    } catch (...) {
        translate_current_exception();
        return nullptr;
    }
}

PyObject* remote_new(PyTypeObject*, PyObject*, PyObject*) {
    PyErr_SetString(PyExc_TypeError,
                    "RemoteObjects are made by a pool (push, scatter_array, scatter_list), not directly");
    return nullptr;
}

// cls.adopt(handle): a cls instance that takes over handle's registry entry.
// The entry moves, so it is neither copied nor counted twice; handle is left
// removed without releasing it.
PyObject* remote_adopt(PyObject* cls, PyObject* handle) {
    RemoteHandle* source = as_remote_handle(handle);
    if (source == nullptr) {
        PyErr_Format(PyExc_TypeError, "adopt takes a RemoteObject, not %.200s", Py_TYPE(handle)->tp_name);
        return nullptr;
    }
    auto* type = reinterpret_cast<PyTypeObject*>(cls);
    PyObject* self = type->tp_alloc(type, 0);
    if (self == nullptr) {
        return nullptr;  // handle keeps its entry
    }
    auto* o = reinterpret_cast<PyRemoteObject*>(self);
    new (&o->handle) RemoteHandle(std::move(*source));
    o->weakrefs = nullptr;
    return self;
}

PyMethodDef g_methods[] = {
    {"adopt", remote_adopt, METH_CLASS | METH_O,
     "A handle of this class (a subclass of RemoteObject) that takes over the object of handle, a\n"
     "pool's fresh handle: the object moves, so it is neither copied nor counted twice, and handle is\n"
     "left removed without freeing it. The new handle's __init__ is not called."},
    {"remove", remote_remove, METH_NOARGS,
     "Frees the object on every worker (once its last handle is removed). Safe to call twice."},
    {"__enter__", remote_enter, METH_NOARGS, nullptr},
    {"__exit__", remote_exit, METH_VARARGS, "Removes the object."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef g_getset[] = {
    {"removed", remote_removed, nullptr, "Whether the object is gone: remove() was called, or its pool was closed.", nullptr},
    {"id", remote_id, nullptr, "The object's id in its pool's registry.", nullptr},
    {"registry", remote_registry, nullptr, "The registry of the pool the object lives in (None once removed).",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyMemberDef g_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(PyRemoteObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

const char* const g_doc =
    "A handle to an object held by every worker of a pool (its own copy on each, or one shared\n"
    "immutable). Pass it as an argument to apply or apply_only (positional or keyword; to map as a\n"
    "keyword) and the function gets that worker's object. remove() frees it on every worker; a\n"
    "handle that is garbage-collected is removed too; in a `with` block it is removed at the end.\n"
    "It can be subclassed (a library's own handle type); the pools take a subclass's instances as\n"
    "their own, and Subclass.adopt(handle) moves a pool's fresh handle into one.";

PyType_Slot g_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(remote_dealloc)},
    {Py_tp_repr, reinterpret_cast<void*>(remote_repr)},
    {Py_tp_new, reinterpret_cast<void*>(remote_new)},
    {Py_tp_methods, g_methods},
    {Py_tp_getset, g_getset},
    {Py_tp_members, g_members},
    {Py_tp_doc, const_cast<char*>(g_doc)},
    {0, nullptr},
};

PyType_Spec g_spec = {"scatterpool.RemoteObject", sizeof(PyRemoteObject), 0,
                      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, g_slots};

}  // namespace

RemoteHandle* as_remote_handle(PyObject* object) noexcept {
    // the exact type first: the pools' own handles cost no subtype walk
    if (Py_TYPE(object) != g_type && !PyType_IsSubtype(Py_TYPE(object), g_type)) {
        return nullptr;
    }
    return &reinterpret_cast<PyRemoteObject*>(object)->handle;
}

PyObject* make_remote_object(RemoteHandle handle) {
    PyObject* self = g_type->tp_alloc(g_type, 0);
    if (self == nullptr) {
        return nullptr;  // handle releases its entry on return
    }
    auto* o = reinterpret_cast<PyRemoteObject*>(self);
    new (&o->handle) RemoteHandle(std::move(handle));
    o->weakrefs = nullptr;
    return self;
}

void register_remote_object(py::module_& m) {
    g_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&g_spec));
    if (g_type == nullptr) {
        throw py::error_already_set();
    }
    m.add_object("RemoteObject", py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(g_type)));
}

}  // namespace scatterpool::bindings
