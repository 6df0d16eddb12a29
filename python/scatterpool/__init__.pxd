# cython: language_level=3
#
# scatterpool: Cython declarations of the C++ core, for `cimport scatterpool`.
#
# They mirror the headers in scatterpool.get_include() (one section per
# header). A module that cimports them is C++ (`# distutils: language = c++`),
# compiles with that include folder and links the static library
# scatterpool_core; with CMake, find_package(scatterpool) and link
# scatterpool::core (scatterpool.get_cmake_dir() is where the package is).
#
# Every function that may throw is declared `except +`: std::invalid_argument
# (and DTypeError) arrive as ValueError, std::out_of_range as IndexError,
# PoolClosedError and ReentrantCallError as RuntimeError. Everything is
# declared nogil, so it can be called with the GIL released.

from libc.stdint cimport uint8_t, uint64_t
from libcpp cimport bool
from libcpp.memory cimport shared_ptr
from libcpp.vector cimport vector


cdef extern from "scatterpool/scatterpool.hpp" namespace "scatterpool" nogil:

    # even_split.hpp: the even split of n items over k parts

    # The k + 1 offsets that split 0..n into k contiguous parts, larger first.
    vector[size_t] even_split(size_t n, size_t k) except +
    # First item of part i (0 <= i <= k, k > 0).
    size_t split_begin(size_t n, size_t k, size_t i)

    # dtype.hpp: the element types a VectorArray holds

    cpdef enum class DType(uint8_t):
        float32
        float64
        complex64
        complex128

    size_t itemsize(DType t)
    const char* dtype_name(DType t)

    # vector_array.hpp: len vectors of dimension dim, the rows of a shared buffer

    cdef cppclass VectorArray:
        VectorArray()
        VectorArray(size_t dim)
        VectorArray(size_t dim, DType dtype)
        VectorArray(const VectorArray&)  # copies the window, not the data

        @staticmethod
        VectorArray zeros(size_t len, size_t dim, DType dtype) except +
        @staticmethod
        VectorArray uninitialized(size_t len, size_t dim, DType dtype) except +
        # A view of memory owned elsewhere; owner keeps it alive (may be empty
        # when the memory outlives the array, e.g. during one call).
        @staticmethod
        VectorArray wrap(void* data, size_t len, size_t dim, DType dtype, size_t row_stride,
                         shared_ptr[void] owner, bool read_only) except +

        size_t len()
        size_t dim()
        DType dtype()
        size_t row_stride()  # in elements
        bool read_only()
        bool contiguous()
        size_t nbytes()
        const void* data()
        void* mutable_data() except +

        # Row i as elements of type T (double, float, double complex, float
        # complex): `U.row[double](i)`. DTypeError (ValueError) if T is not
        # the element type, IndexError if i >= len, RuntimeError if read-only.
        T* row[T](size_t i) except +

        VectorArray rows(size_t begin, size_t end) except +  # a view
        VectorArray rows(size_t begin, size_t end, size_t step) except +
        VectorArray take(const vector[size_t]& indices) except +  # a copy
        VectorArray copy() except +
        void copy_to(void* dst)
        vector[VectorArray] partition(size_t k, bool copy) except +
        void append(const VectorArray& other) except +
        void append_from(VectorArray& other) except +
        void remove_rows(const vector[size_t]& indices) except +
        void clear()

    # worker_context.hpp: which worker of which pool the calling thread runs as

    cdef cppclass WorkerContext:
        uint64_t pool_uid
        size_t index

    # The context of the task running on this thread, or NULL outside tasks.
    const WorkerContext* current_worker()

    # pool.hpp, dummy_pool.hpp, thread_pool.hpp: the pools

    cdef cppclass Pool:
        size_t size()
        uint64_t uid()
        bool closed()
        bool concurrent()
        bool in_task()
        # Splits U's rows over the workers: views (copy=False) or copies made
        # by the workers that will use them (copy=True).
        vector[VectorArray] partition(const VectorArray& U, bool copy) except +
        void close() except +

    cdef cppclass DummyPool(Pool):
        DummyPool() except +

    cdef cppclass ThreadPool(Pool):
        # Worker 0 is the calling thread; workers 1..num_workers-1 are threads
        # of their own. ValueError if num_workers == 0.
        ThreadPool(size_t num_workers) except +

    # c_task.hpp: C functions as pool tasks

    # `cdef void f(size_t worker, void* data) noexcept nogil`
    ctypedef void (*CTask)(size_t worker, void* data) noexcept nogil

    # Runs task(w, data) on every worker w of pool and waits for all of them.
    # Call it inside `with nogil:` so that worker 0 (this thread) does not
    # hold the GIL while the others run.
    void run_all_c(Pool& pool, CTask task, void* data) except +
    # Runs task(worker, data) on one worker and waits.
    void run_one_c(Pool& pool, size_t worker, CTask task, void* data) except +
