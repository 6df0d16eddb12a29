# distutils: language = c++
# cython: language_level=3, boundscheck=False, wraparound=False
"""Row norms of a NumPy array, computed without the GIL on the workers of a scatterpool ThreadPool."""
import numpy as np

from libc.math cimport sqrt
from libcpp.memory cimport make_unique, shared_ptr, unique_ptr
from libcpp.vector cimport vector

cimport scatterpool as sp


cdef struct Job:
    vector[sp.VectorArray]* parts  # worker w's rows: parts[w], a view of A
    const size_t* offsets          # ... which are rows offsets[w]:offsets[w+1] of A
    double* norms                  # one per row of A


cdef void part_norms(size_t worker, void* data) noexcept nogil:
    """Runs on every worker at once; each writes only the norms of its own rows."""
    cdef Job* job = <Job*> data
    cdef sp.VectorArray* part = &job.parts[0][worker]
    cdef double* out = job.norms + job.offsets[worker]
    cdef double* x
    cdef double s
    cdef size_t i, j
    for i in range(part.len()):
        x = part.row[double](i)
        s = 0
        for j in range(part.dim()):
            s += x[j] * x[j]
        out[i] = sqrt(s)


def row_norms(double[:, ::1] A not None, size_t num_workers=4):
    """The Euclidean norm of every row of A, on num_workers threads."""
    norms = np.zeros(A.shape[0])
    if A.shape[0] == 0 or A.shape[1] == 0:
        return norms
    cdef double[::1] out = norms
    # wrap A's memory without copying; A outlives the call, so no owner is needed
    cdef sp.VectorArray U = sp.VectorArray.wrap(&A[0, 0], A.shape[0], A.shape[1], sp.DType.float64,
                                                A.shape[1], shared_ptr[void](), False)
    cdef unique_ptr[sp.ThreadPool] pool = make_unique[sp.ThreadPool](num_workers)
    cdef vector[sp.VectorArray] parts = pool.get().partition(U, False)  # views, one per worker
    cdef vector[size_t] offsets = sp.even_split(U.len(), pool.get().size())
    cdef Job job = Job(&parts, offsets.data(), &out[0])
    with nogil:
        sp.run_all_c(pool.get()[0], part_norms, &job)
    return norms


# The README shows this file up to here; what follows is for the tests.


def split(size_t n, size_t k):
    """scatterpool's even split, through the C++ core."""
    return sp.even_split(n, k)


cdef void which_worker(size_t worker, void* data) noexcept nogil:
    cdef const sp.WorkerContext* context = sp.current_worker()
    (<size_t*> data)[worker] = context.index + 1 if context != NULL else 0


def workers_seen(size_t num_workers):
    """For every worker, 1 + the index current_worker() reports inside its task."""
    cdef vector[size_t] seen = vector[size_t](num_workers, 0)
    cdef unique_ptr[sp.ThreadPool] pool = make_unique[sp.ThreadPool](num_workers)
    with nogil:
        sp.run_all_c(pool.get()[0], which_worker, seen.data())
    return seen
