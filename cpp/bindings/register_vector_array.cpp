// scatterpool bindings: VectorArray and its zero-copy exchange with NumPy.
#include "bindings.hpp"

#include <memory>

#include <scatterpool/vector_array.hpp>

namespace scatterpool::bindings {

namespace {

const char* const kDTypes = "float32, float64, complex64 and complex128";

bool native_little_endian() noexcept {
    const std::uint16_t probe = 1;
    return *reinterpret_cast<const std::uint8_t*>(&probe) == 1;
}

DType dtype_from_numpy(const py::dtype& dt) {
    const char kind = dt.kind();
    const auto size = dt.itemsize();
    const char order = dt.byteorder();
    const bool native = order == '=' || order == '|' ||
                        (order == (native_little_endian() ? '<' : '>'));
    if (native && kind == 'f' && size == 4) return DType::float32;
    if (native && kind == 'f' && size == 8) return DType::float64;
    if (native && kind == 'c' && size == 8) return DType::complex64;
    if (native && kind == 'c' && size == 16) return DType::complex128;
    throw py::type_error("VectorArray holds " + std::string(kDTypes) + ", not " +
                         py::str(static_cast<const py::handle&>(dt)).cast<std::string>());
}

py::dtype numpy_dtype(DType t) { return py::dtype(dtype_name(t)); }

// Keeps a Python object alive from C++, for as long as any view of its memory lives.
std::shared_ptr<void> python_owner(py::handle object) {
    return std::shared_ptr<void>(new PyRef(object.ptr()), [](void* p) { delete static_cast<PyRef*>(p); });
}

bool is_ndarray(py::handle object) { return py::isinstance<py::array>(object); }

VectorArray wrap_numpy(const py::array& a, bool require_layout) {
    if (a.ndim() != 1 && a.ndim() != 2) {
        throw py::value_error("VectorArray.from_numpy: expected a 2-D array (rows are vectors) or a 1-D "
                              "array (one vector), got " + std::to_string(a.ndim()) + " dimensions");
    }
    const DType dtype = dtype_from_numpy(a.dtype());
    const auto item = static_cast<py::ssize_t>(itemsize(dtype));
    const bool one_row = a.ndim() == 1;
    const auto len = static_cast<std::size_t>(one_row ? 1 : a.shape(0));
    const auto dim = static_cast<std::size_t>(one_row ? a.shape(0) : a.shape(1));
    const py::ssize_t element_stride = one_row ? a.strides(0) : a.strides(1);
    const py::ssize_t row_stride = one_row ? static_cast<py::ssize_t>(dim) * item : a.strides(0);
    const bool empty = len == 0 || dim == 0;  // no memory to lay out
    const bool elements_ok = empty || dim <= 1 || element_stride == item;
    const bool rows_ok = empty || len <= 1 || (row_stride >= 0 && row_stride % item == 0 &&
                                      static_cast<std::size_t>(row_stride / item) >= dim);
    if (!elements_ok || !rows_ok) {
        if (require_layout) {
            throw py::value_error("VectorArray.from_numpy(copy=False) shares memory only with arrays whose "
                                  "rows lie in order, each row's elements side by side (as in a C-contiguous "
                                  "array or a slice of rows of one); pass copy=True");
        }
        return wrap_numpy(py::array(py::module_::import("numpy").attr("ascontiguousarray")(a)), true);
    }
    const std::size_t stride = len <= 1 ? dim : static_cast<std::size_t>(row_stride / item);
    const bool read_only = !a.writeable();
    return VectorArray::wrap(const_cast<void*>(a.data()), len, dim, dtype, stride, python_owner(a), read_only);
}

VectorArray from_numpy(const py::object& object, bool copy) {
    if (!is_ndarray(object)) {
        if (!copy) {
            throw py::type_error("VectorArray.from_numpy(copy=False) needs a numpy.ndarray, got " +
                                 py::str(py::type::of(object)).cast<std::string>() +
                                 "; pass copy=True for other array-likes");
        }
        return from_numpy(py::module_::import("numpy").attr("asarray")(object), true);
    }
    const auto a = py::reinterpret_borrow<py::array>(object);
    if (!copy) {
        return wrap_numpy(a, true);
    }
    const VectorArray view = wrap_numpy(a, false);
    py::gil_scoped_release release;  // copying array data touches no Python object
    return view.copy();
}

py::array to_numpy(const VectorArray& U) {
    const auto item = static_cast<py::ssize_t>(itemsize(U.dtype()));
    std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(U.len()), static_cast<py::ssize_t>(U.dim())};
    std::vector<py::ssize_t> strides{static_cast<py::ssize_t>(U.row_stride()) * item, item};
    if (U.data() == nullptr || U.len() == 0 || U.dim() == 0) {
        return py::array(numpy_dtype(U.dtype()), shape, strides);  // nothing to share
    }
    // The capsule holds one more owner of the buffer: the NumPy view keeps the
    // memory alive whatever happens to U afterwards.
    auto* owner = new std::shared_ptr<void>(U.owner());
    py::capsule base(owner, [](void* p) { delete static_cast<std::shared_ptr<void>*>(p); });
    py::array out(numpy_dtype(U.dtype()), shape, strides, U.data(), base);
    if (U.read_only()) {
        py::detail::array_proxy(out.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    }
    return out;
}

std::size_t normalize_index(py::ssize_t i, std::size_t len) {
    const auto n = static_cast<py::ssize_t>(len);
    if (i < -n || i >= n) {
        throw py::index_error("index " + std::to_string(i) + " is out of range for " + std::to_string(len) +
                              " vectors");
    }
    return static_cast<std::size_t>(i < 0 ? i + n : i);
}

// The rows a key selects: an int, a slice or a sequence of ints.
struct Selection {
    bool view = false;  // rows(begin, end, step) describes it
    std::size_t begin = 0, end = 0, step = 1;
    std::vector<std::size_t> indices;  // otherwise
};

Selection select(const VectorArray& U, const py::handle& key) {
    Selection s;
    if (PySlice_Check(key.ptr())) {
        Py_ssize_t start = 0, stop = 0, step = 0;
        if (PySlice_Unpack(key.ptr(), &start, &stop, &step) < 0) {
            throw py::error_already_set();
        }
        const Py_ssize_t count = PySlice_AdjustIndices(static_cast<Py_ssize_t>(U.len()), &start, &stop, step);
        if (step > 0) {
            s.view = true;
            s.step = static_cast<std::size_t>(step);
            s.begin = count == 0 ? 0 : static_cast<std::size_t>(start);
            s.end = count == 0 ? 0 : s.begin + static_cast<std::size_t>(count - 1) * s.step + 1;
            return s;
        }
        for (Py_ssize_t j = 0; j < count; ++j) {
            s.indices.push_back(static_cast<std::size_t>(start + j * step));
        }
        return s;
    }
    if (!is_ndarray(key) && PyIndex_Check(key.ptr())) {
        const std::size_t i = normalize_index(py::cast<py::ssize_t>(key), U.len());
        s.view = true;
        s.begin = i;
        s.end = i + 1;
        return s;
    }
    const py::module_ np = py::module_::import("numpy");
    const py::array a = np.attr("asarray")(key);
    const std::string kind(1, a.dtype().kind());
    if (a.ndim() != 1 || (a.size() != 0 && kind != "i" && kind != "u")) {
        throw py::type_error("VectorArray indices are an int, a slice, or a 1-D sequence of ints");
    }
    const auto keys = py::array_t<py::ssize_t>(a.attr("astype")(np.attr("intp")));
    auto view = keys.unchecked<1>();
    s.indices.reserve(static_cast<std::size_t>(keys.size()));
    for (py::ssize_t j = 0; j < keys.size(); ++j) {
        s.indices.push_back(normalize_index(view(j), U.len()));
    }
    return s;
}

std::vector<std::size_t> selected_indices(const Selection& s) {
    if (!s.view) {
        return s.indices;
    }
    std::vector<std::size_t> out;
    for (std::size_t i = s.begin; i < s.end; i += s.step) {
        out.push_back(i);
    }
    return out;
}

}  // namespace

void register_vector_array(py::module_& m) {
    py::list names;
    for (const DType t : kAllDTypes) {
        names.append(dtype_name(t));
    }
    m.attr("DTYPES") = py::tuple(names);  // the element types the core moves, by NumPy name
    py::class_<VectorArray>(m, "VectorArray",
                            "len vectors of dimension dim, stored as the rows of one buffer that views share.\n\n"
                            "U[i] and U[a:b:s] are views (no copy); U[list of ints] is a copy. The buffer lives\n"
                            "as long as any VectorArray or NumPy view of it.")
        .def(py::init([](std::size_t dim, const py::object& dtype) {
                 return VectorArray(dim, dtype_from_numpy(py::dtype::from_args(dtype)));
             }),
             py::arg("dim") = 0, py::arg("dtype") = py::module_::import("builtins").attr("float"),
             "An empty array of vectors of dimension dim.")
        .def_static("from_numpy", &from_numpy, py::arg("array"), py::arg("copy") = false,
                    "The rows of a 1-D or 2-D NumPy array as vectors. copy=False shares the array's memory\n"
                    "(which the VectorArray keeps alive); copy=True copies it. TypeError for dtypes other\n"
                    "than float32, float64, complex64 and complex128.")
        .def_static(
            "zeros",
            [](std::size_t len, std::size_t dim, const py::object& dtype) {
                return VectorArray::zeros(len, dim, dtype_from_numpy(py::dtype::from_args(dtype)));
            },
            py::arg("len"), py::arg("dim"), py::arg("dtype") = py::module_::import("builtins").attr("float"),
            "len zero vectors of dimension dim.")
        .def("to_numpy", &to_numpy, "The vectors as the rows of a NumPy array that shares this buffer (no copy).")
        .def(
            "__array__",
            [](const VectorArray& U, const py::object& dtype, const py::object& copy) {
                py::object out = to_numpy(U);
                if (!dtype.is_none()) {
                    out = out.attr("astype")(dtype, py::arg("copy") = false);
                }
                if (!copy.is_none() && copy.cast<bool>()) {
                    out = out.attr("copy")();
                }
                return out;
            },
            py::arg("dtype") = py::none(), py::arg("copy") = py::none())
        .def("__len__", &VectorArray::len)
        .def_property_readonly("dim", &VectorArray::dim, "The dimension of the vectors.")
        .def_property_readonly(
            "dtype", [](const VectorArray& U) { return numpy_dtype(U.dtype()); }, "The NumPy dtype of the elements.")
        .def_property_readonly("read_only", &VectorArray::read_only,
                               "Whether the memory may not be written (wraps a read-only NumPy array).")
        .def(
            "copy",
            [](const VectorArray& U) {
                py::gil_scoped_release release;
                return U.copy();
            },
            "A copy with a buffer of its own.")
        .def(
            "empty", [](const VectorArray& U) { return VectorArray(U.dim(), U.dtype()); },
            "An empty array of the same dimension and dtype.")
        .def("__getitem__",
             [](const VectorArray& U, const py::handle& key) {
                 const Selection s = select(U, key);
                 if (s.view) {
                     return U.rows(s.begin, s.end, s.step);
                 }
                 py::gil_scoped_release release;
                 return U.take(s.indices);
             })
        .def("__delitem__",
             [](VectorArray& U, const py::handle& key) {
                 const Selection s = select(U, key);
                 if (s.view && s.step == 1) {
                     U.remove_range(s.begin, s.end);  // del U[:] costs nothing, whatever the size
                 } else {
                     U.remove_rows(selected_indices(s));
                 }
             })
        .def(
            "append",
            [](VectorArray& U, VectorArray& other, bool remove_from_other) {
                if (remove_from_other) {
                    U.append_from(other);
                } else {
                    U.append(other);
                }
            },
            py::arg("other"), py::arg("remove_from_other") = false,
            "Appends other's vectors (copied). remove_from_other=True leaves other empty and, when this\n"
            "array is empty, takes over other's buffer without copying.")
        .def("__repr__",
             [](const VectorArray& U) {
                 return "VectorArray(len=" + std::to_string(U.len()) + ", dim=" + std::to_string(U.dim()) +
                        ", dtype=" + dtype_name(U.dtype()) + ")";
             })
        .def(py::pickle([](const VectorArray& U) { return py::make_tuple(to_numpy(U.copy())); },
                        [](const py::tuple& state) { return from_numpy(state[0], false); }));
}

}  // namespace scatterpool::bindings
