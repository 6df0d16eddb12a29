// scatterpool tests: VectorArray buffers, views, lifetimes and structural changes.
#include <complex>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include <scatterpool/errors.hpp>
#include <scatterpool/vector_array.hpp>

#include "check.hpp"

using scatterpool::DType;
using scatterpool::DTypeError;
using scatterpool::VectorArray;

namespace {

// len x dim float64 rows with element (i, j) = 100 * i + j.
VectorArray numbered(std::size_t len, std::size_t dim) {
    VectorArray a = VectorArray::uninitialized(len, dim);
    for (std::size_t i = 0; i < len; ++i) {
        for (std::size_t j = 0; j < dim; ++j) {
            a.row<double>(i)[j] = static_cast<double>(100 * i + j);
        }
    }
    return a;
}

// The first element of every row.
std::vector<double> firsts(const VectorArray& a) {
    std::vector<double> out;
    for (std::size_t i = 0; i < a.len(); ++i) {
        out.push_back(a.row<double>(i)[0]);
    }
    return out;
}

bool inside(const void* p, const VectorArray& a) {
    const auto* begin = static_cast<const std::byte*>(a.data());
    const auto* q = static_cast<const std::byte*>(p);
    return begin != nullptr && q >= begin && q < begin + a.len() * a.row_stride() * itemsize(a.dtype());
}

}  // namespace

TEST_CASE(vector_array_shape_and_zeros) {
    VectorArray empty(7);
    CHECK_EQ(empty.len(), std::size_t{0});
    CHECK_EQ(empty.dim(), std::size_t{7});
    CHECK(empty.dtype() == DType::float64);

    VectorArray a = VectorArray::zeros(5, 3, DType::complex128);
    CHECK_EQ(a.len(), std::size_t{5});
    CHECK_EQ(a.dim(), std::size_t{3});
    CHECK_EQ(a.nbytes(), std::size_t{5 * 3 * 16});
    CHECK(a.contiguous());
    CHECK(!a.read_only());
    for (std::size_t i = 0; i < a.len(); ++i) {
        for (std::size_t j = 0; j < a.dim(); ++j) {
            CHECK(a.row<std::complex<double>>(i)[j] == std::complex<double>(0.0, 0.0));
        }
    }
    CHECK_EQ(reinterpret_cast<std::uintptr_t>(a.data()) % alignof(std::max_align_t), std::uintptr_t{0});
}

TEST_CASE(vector_array_large_buffers_of_odd_sizes) {
    // Buffers of 4 MiB and more take the allocator's huge-page path, whose
    // bookkeeping once went wrong for sizes that are not whole 2 MiB pages.
    std::vector<VectorArray> arrays;
    for (std::size_t len : {std::size_t{174763}, std::size_t{262147}, std::size_t{700001}, std::size_t{1} << 20}) {
        VectorArray a = VectorArray::zeros(len, 3);
        a.row<double>(0)[0] = 1.0;
        a.row<double>(len - 1)[2] = static_cast<double>(len);
        arrays.push_back(a);
        arrays.push_back(VectorArray::uninitialized(len + 1, 3));
    }
    for (std::size_t i = 0; i < arrays.size(); i += 2) {
        const VectorArray& a = arrays[i];
        CHECK_EQ(a.row<double>(0)[0], 1.0);
        CHECK_EQ(a.row<double>(a.len() / 2)[1], 0.0);
        CHECK_EQ(a.row<double>(a.len() - 1)[2], static_cast<double>(a.len()));
        VectorArray& b = arrays[i + 1];
        b.row<double>(b.len() - 1)[2] = 5.0;  // the whole buffer is writable
        CHECK_EQ(b.row<double>(b.len() - 1)[2], 5.0);
    }
}

TEST_CASE(vector_array_large_buffer_is_zero_and_shared) {
    // 16 MiB: the allocator's huge-page path
    const std::size_t len = std::size_t{1} << 21;
    VectorArray view;
    {
        VectorArray a = VectorArray::zeros(len, 1);
        CHECK_EQ(a.row<double>(0)[0], 0.0);
        CHECK_EQ(a.row<double>(len - 1)[0], 0.0);
        a.row<double>(len - 1)[0] = 5.0;
        view = a.rows(len - 2, len);
    }
    CHECK_EQ(view.row<double>(1)[0], 5.0);
}

TEST_CASE(vector_array_too_large_throws) {
    const std::size_t max = std::numeric_limits<std::size_t>::max();
    CHECK_THROWS(VectorArray::uninitialized(max / 2, 4), std::length_error);
    CHECK_THROWS(VectorArray::zeros(4, max / 2), std::length_error);
}

TEST_CASE(vector_array_views_share_memory) {
    VectorArray a = numbered(6, 2);
    VectorArray v = a.rows(1, 4);
    CHECK_EQ(v.len(), std::size_t{3});
    CHECK_EQ(v.row<double>(0), a.row<double>(1));
    v.row<double>(2)[1] = -1.0;  // row 3 of a
    CHECK_EQ(a.row<double>(3)[1], -1.0);
    CHECK(v.owner() == a.owner());

    VectorArray every_other = a.rows(0, 6, 2);
    CHECK_EQ(firsts(every_other), (std::vector<double>{0, 200, 400}));
    CHECK(!every_other.contiguous());
    CHECK_EQ(every_other.row<double>(1), a.row<double>(2));

    // copying the VectorArray object copies the window, not the data
    VectorArray same = a;
    same.row<double>(0)[0] = 42.0;
    CHECK_EQ(a.row<double>(0)[0], 42.0);
}

TEST_CASE(vector_array_view_keeps_buffer_alive) {
    VectorArray view;
    std::weak_ptr<void> buffer;
    {
        VectorArray a = numbered(4, 3);
        buffer = a.owner();
        view = a.rows(2, 4);
    }
    CHECK(!buffer.expired());
    CHECK_EQ(firsts(view), (std::vector<double>{200, 300}));
    view.clear();
    CHECK(buffer.expired());
}

TEST_CASE(vector_array_empty_view_holds_nothing) {
    std::weak_ptr<void> buffer;
    VectorArray empty;
    {
        VectorArray a = numbered(4, 3);
        buffer = a.owner();
        empty = a.rows(2, 2);
    }
    CHECK_EQ(empty.len(), std::size_t{0});
    CHECK(buffer.expired());
}

TEST_CASE(vector_array_rows_errors) {
    VectorArray a = numbered(4, 2);
    CHECK_THROWS(a.rows(3, 2), std::out_of_range);
    CHECK_THROWS_WITH(a.rows(0, 5), std::out_of_range, "0..4");
    CHECK_THROWS(a.rows(0, 2, 0), std::invalid_argument);
    CHECK_THROWS(a.row<double>(4), std::out_of_range);
    CHECK_EQ(a.rows(4, 4).len(), std::size_t{0});
}

TEST_CASE(vector_array_dtype_errors) {
    VectorArray a = numbered(3, 2);
    CHECK_THROWS_WITH(a.row<float>(0), DTypeError, "float64");
    CHECK_THROWS(a.row<std::complex<double>>(0), DTypeError);
    VectorArray f = VectorArray::zeros(2, 2, DType::float32);
    CHECK_THROWS_WITH(a.append(f), DTypeError, "float32");
    CHECK_THROWS(a.append_from(f), DTypeError);
    CHECK_EQ(f.len(), std::size_t{2});  // left alone on error
    VectorArray wrong_dim = VectorArray::zeros(2, 3);
    CHECK_THROWS_WITH(a.append(wrong_dim), std::invalid_argument, "dimensions");
    CHECK_EQ(a.len(), std::size_t{3});
}

TEST_CASE(vector_array_wrap_without_copy) {
    // 3 rows of dimension 2, padded to a stride of 4 elements
    auto storage = std::make_shared<std::vector<double>>(12, 0.0);
    for (std::size_t i = 0; i < 3; ++i) {
        (*storage)[4 * i] = static_cast<double>(i);
    }
    double* data = storage->data();
    VectorArray a = VectorArray::wrap(data, 3, 2, DType::float64, 4, storage);
    std::weak_ptr<std::vector<double>> alive = storage;
    storage.reset();
    CHECK(!alive.expired());  // the array keeps its owner
    CHECK_EQ(a.row_stride(), std::size_t{4});
    CHECK(!a.contiguous());
    CHECK_EQ(a.row<double>(2), data + 8);
    CHECK_EQ(firsts(a), (std::vector<double>{0, 1, 2}));
    a.row<double>(1)[1] = 7.0;
    CHECK_EQ(data[5], 7.0);

    VectorArray c = a.copy();  // copies are contiguous
    CHECK(c.contiguous());
    CHECK_EQ(c.row<double>(1)[1], 7.0);
    CHECK(!inside(c.data(), a));

    a.clear();
    CHECK(alive.expired());
}

TEST_CASE(vector_array_wrap_read_only) {
    const std::vector<double> values{1, 2, 3, 4};
    VectorArray a = VectorArray::wrap(const_cast<double*>(values.data()), 2, 2, DType::float64, 2, nullptr, true);
    CHECK(a.read_only());
    const VectorArray& ca = a;
    CHECK_EQ(ca.row<double>(1)[0], 3.0);
    CHECK_THROWS(a.row<double>(0), std::logic_error);
    CHECK_THROWS(a.mutable_data(), std::logic_error);
    CHECK(a.rows(0, 1).read_only());
    VectorArray writable = a.copy();
    CHECK(!writable.read_only());
    writable.row<double>(0)[0] = 9.0;
    CHECK_EQ(values[0], 1.0);
}

TEST_CASE(vector_array_wrap_errors) {
    double x[4] = {};
    CHECK_THROWS_WITH(VectorArray::wrap(x, 2, 2, DType::float64, 1, nullptr), std::invalid_argument, "stride");
    CHECK_THROWS(VectorArray::wrap(nullptr, 2, 2, DType::float64, 2, nullptr), std::invalid_argument);
    CHECK_EQ(VectorArray::wrap(nullptr, 0, 2, DType::float64, 2, nullptr).len(), std::size_t{0});
    CHECK_EQ(VectorArray::wrap(x, 1, 4, DType::float64, 0, nullptr).len(), std::size_t{1});  // one row: stride unused
}

TEST_CASE(vector_array_partition_views) {
    VectorArray a = numbered(10, 2);
    std::vector<VectorArray> parts = a.partition(4, false);
    CHECK_EQ(parts.size(), std::size_t{4});
    const std::size_t sizes[] = {3, 3, 2, 2};
    std::size_t row = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        CHECK_EQ(parts[i].len(), sizes[i]);
        CHECK(parts[i].owner() == a.owner());
        CHECK_EQ(parts[i].row<double>(0), a.row<double>(row));
        row += sizes[i];
    }
    parts[2].row<double>(1)[0] = -7.0;  // a view: row 7 of a
    CHECK_EQ(a.row<double>(7)[0], -7.0);

    const std::vector<VectorArray> more_parts_than_rows = a.rows(0, 2).partition(5, false);
    CHECK_EQ(more_parts_than_rows.size(), std::size_t{5});
    CHECK_EQ(more_parts_than_rows[1].len(), std::size_t{1});
    CHECK_EQ(more_parts_than_rows[4].len(), std::size_t{0});
    CHECK_THROWS(a.partition(0, false), std::invalid_argument);
}

TEST_CASE(vector_array_partition_copies) {
    VectorArray a = numbered(7, 3);
    std::vector<VectorArray> parts = a.partition(3, true);
    CHECK_EQ(parts.size(), std::size_t{3});
    CHECK_EQ(firsts(parts[0]), (std::vector<double>{0, 100, 200}));
    CHECK_EQ(firsts(parts[1]), (std::vector<double>{300, 400}));
    CHECK_EQ(firsts(parts[2]), (std::vector<double>{500, 600}));
    for (VectorArray& part : parts) {
        CHECK(part.owner() != a.owner());
        CHECK(!inside(part.data(), a));
        part.row<double>(0)[0] = -1.0;
    }
    CHECK_EQ(firsts(a), (std::vector<double>{0, 100, 200, 300, 400, 500, 600}));
}

TEST_CASE(vector_array_append) {
    VectorArray a = numbered(2, 2);
    a.append(numbered(3, 2));
    CHECK_EQ(firsts(a), (std::vector<double>{0, 100, 0, 100, 200}));
    a.append(VectorArray(2));  // nothing to append
    CHECK_EQ(a.len(), std::size_t{5});
    // one row at a time, many times (growth)
    VectorArray b(1);
    for (std::size_t i = 0; i < 100; ++i) {
        b.append(numbered(1, 1));
        b.row<double>(i)[0] = static_cast<double>(i);
    }
    CHECK_EQ(b.len(), std::size_t{100});
    CHECK_EQ(b.row<double>(99)[0], 99.0);
    CHECK_EQ(b.row<double>(50)[0], 50.0);
}

TEST_CASE(vector_array_append_view_of_itself) {
    VectorArray a = numbered(3, 2);
    a.append(a.rows(1, 3));
    CHECK_EQ(firsts(a), (std::vector<double>{0, 100, 200, 100, 200}));
    a.append(a);
    CHECK_EQ(a.len(), std::size_t{10});
    CHECK_EQ(a.row<double>(9)[1], 201.0);
}

TEST_CASE(vector_array_append_never_writes_into_other_windows) {
    VectorArray a = numbered(4, 1);
    VectorArray tail = a.rows(2, 4);
    a.remove_rows({2, 3});  // a is rows 0..1 of the buffer, tail still sees rows 2..3
    a.append(numbered(2, 1));
    CHECK_EQ(firsts(a), (std::vector<double>{0, 100, 0, 100}));
    CHECK_EQ(firsts(tail), (std::vector<double>{200, 300}));

    VectorArray b = numbered(4, 1);
    VectorArray head = b.rows(0, 2);  // a view with room behind it in the buffer
    head.append(numbered(1, 1));
    CHECK_EQ(firsts(b), (std::vector<double>{0, 100, 200, 300}));
    CHECK_EQ(firsts(head), (std::vector<double>{0, 100, 0}));
}

TEST_CASE(vector_array_append_from) {
    VectorArray source = numbered(3, 2);
    const void* data = source.data();
    VectorArray target(2);
    target.append_from(source);  // an empty target takes the buffer over
    CHECK_EQ(target.data(), data);
    CHECK_EQ(source.len(), std::size_t{0});
    CHECK_EQ(firsts(target), (std::vector<double>{0, 100, 200}));

    VectorArray more = numbered(2, 2);
    target.append_from(more);
    CHECK_EQ(more.len(), std::size_t{0});
    CHECK_EQ(firsts(target), (std::vector<double>{0, 100, 200, 0, 100}));
    CHECK_THROWS(target.append_from(target), std::invalid_argument);
    CHECK_EQ(target.len(), std::size_t{5});
}

TEST_CASE(vector_array_remove_rows) {
    VectorArray a = numbered(6, 2);
    VectorArray before = a.rows(0, 6);
    a.remove_rows({4, 1, 1});  // any order, duplicates allowed
    CHECK_EQ(firsts(a), (std::vector<double>{0, 200, 300, 500}));
    CHECK_EQ(firsts(before), (std::vector<double>{0, 100, 200, 300, 400, 500}));

    VectorArray b = numbered(5, 1);
    b.remove_rows({0, 4});  // what is left is one run of rows
    CHECK_EQ(firsts(b), (std::vector<double>{100, 200, 300}));
    b.remove_rows({});
    CHECK_EQ(b.len(), std::size_t{3});
    CHECK_THROWS_WITH(b.remove_rows({1, 3}), std::out_of_range, "3");
    CHECK_EQ(b.len(), std::size_t{3});  // unchanged on error
    b.remove_rows({0, 1, 2});
    CHECK_EQ(b.len(), std::size_t{0});
    CHECK(b.owner() == nullptr);
}

TEST_CASE(vector_array_take) {
    VectorArray a = numbered(5, 2);
    VectorArray t = a.take({4, 0, 4});
    CHECK_EQ(firsts(t), (std::vector<double>{400, 0, 400}));
    CHECK(t.contiguous());
    CHECK(t.owner() != a.owner());
    t.row<double>(0)[0] = -1.0;
    CHECK_EQ(a.row<double>(4)[0], 400.0);
    CHECK_EQ(a.take({}).len(), std::size_t{0});
    CHECK_THROWS(a.take({5}), std::out_of_range);
}

TEST_CASE(vector_array_copy_to_and_clear) {
    VectorArray a = numbered(6, 2);
    const VectorArray odd = a.rows(1, 6, 2);
    std::vector<double> out(odd.len() * odd.dim());
    odd.copy_to(out.data());
    CHECK_EQ(out, (std::vector<double>{100, 101, 300, 301, 500, 501}));
    a.clear();
    CHECK_EQ(a.len(), std::size_t{0});
    CHECK_EQ(a.dim(), std::size_t{2});
    CHECK_EQ(odd.row<double>(2)[1], 501.0);  // the view still holds the buffer
}
