// scatterpool: VectorArray, a row-major array of vectors with shared buffers.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <scatterpool/dtype.hpp>
#include <scatterpool/errors.hpp>

namespace scatterpool {

/// @brief `len` vectors of dimension `dim`, stored as rows of one buffer.
///
/// A VectorArray is a window onto a shared buffer: copying the VectorArray
/// object copies the window, not the data, and every window keeps the buffer
/// alive through a shared owner. `rows()` and `partition(k, false)` make
/// views without copying; `copy()` and `partition(k, true)` make new buffers.
/// Structural changes (`append`, `remove_rows`, `clear`) never write into
/// memory that another window can see: they narrow this window, or move it
/// to a new buffer, or write past its end only while it owns the buffer alone.
/// Not thread-safe: one VectorArray object is used by one thread at a time;
/// distinct views of one buffer may be read and written by distinct threads.
class VectorArray {
public:
    /// @brief An empty array of dimension @p dim.
    explicit VectorArray(std::size_t dim = 0, DType dtype = DType::float64);

    /// @brief `len × dim` zeros in a new buffer.
    static VectorArray zeros(std::size_t len, std::size_t dim, DType dtype = DType::float64);

    /// @brief `len × dim` elements in a new buffer, not initialised.
    static VectorArray uninitialized(std::size_t len, std::size_t dim, DType dtype = DType::float64);

    /// @brief A view of memory owned elsewhere; nothing is copied.
    /// @param data first element of row 0.
    /// @param row_stride distance between rows, in elements (at least @p dim).
    /// @param owner keeps @p data alive as long as any view of it exists.
    /// @param read_only whether the memory may not be written through this array.
    /// @throws std::invalid_argument if @p row_stride < @p dim with more than one row,
    ///         or @p data is null with a non-empty shape.
    static VectorArray wrap(void* data, std::size_t len, std::size_t dim, DType dtype, std::size_t row_stride,
                            std::shared_ptr<void> owner, bool read_only = false);

    std::size_t len() const noexcept { return len_; }
    std::size_t dim() const noexcept { return dim_; }
    DType dtype() const noexcept { return dtype_; }
    /// @brief Distance between consecutive rows, in elements.
    std::size_t row_stride() const noexcept { return row_stride_; }
    bool read_only() const noexcept { return read_only_; }
    /// @brief Whether the rows lie back to back (one block of len*dim elements).
    bool contiguous() const noexcept { return len_ <= 1 || row_stride_ == dim_; }
    /// @brief Bytes of array data (len * dim * itemsize).
    std::size_t nbytes() const noexcept { return len_ * dim_ * itemsize(dtype_); }
    /// @brief The shared owner of the buffer (empty for an array without one).
    const std::shared_ptr<void>& owner() const noexcept { return owner_; }

    /// @brief First element of row 0 (may be null for an empty array).
    const void* data() const noexcept { return data_; }
    /// @throws std::logic_error if the array is read-only.
    void* mutable_data();

    /// @brief Row @p i as typed elements.
    /// @throws DTypeError if T is not the element type; std::out_of_range if i >= len.
    template <class T> const T* row(std::size_t i) const {
        check_row<T>(i);
        return reinterpret_cast<const T*>(data_ + i * row_stride_ * itemsize(dtype_));
    }
    template <class T> T* row(std::size_t i) {
        check_row<T>(i);
        return reinterpret_cast<T*>(static_cast<std::byte*>(mutable_data()) + i * row_stride_ * itemsize(dtype_));
    }

    /// @brief A view of rows begin, begin+step, ... < end; shares the buffer.
    /// @throws std::out_of_range if begin > end or end > len; std::invalid_argument if step == 0.
    VectorArray rows(std::size_t begin, std::size_t end, std::size_t step = 1) const;

    /// @brief A new contiguous array with the rows at @p indices, in that order.
    /// @throws std::out_of_range for an index >= len.
    VectorArray take(const std::vector<std::size_t>& indices) const;

    /// @brief A new contiguous array with the same rows.
    VectorArray copy() const;

    /// @brief Writes the rows back to back to @p dst (nbytes() bytes).
    void copy_to(void* dst) const;

    /// @brief Splits the rows into @p k parts by even_split.
    /// @param copy false: the parts are views of this buffer; true: each part has its own.
    /// @throws std::invalid_argument if k == 0.
    std::vector<VectorArray> partition(std::size_t k, bool copy) const;

    /// @brief Appends copies of @p other's rows.
    /// @throws std::invalid_argument if the dimensions differ; DTypeError if the types differ.
    void append(const VectorArray& other);

    /// @brief Appends @p other's rows and leaves @p other empty; takes over
    /// its buffer without copying when this array is empty.
    void append_from(VectorArray& other);

    /// @brief Removes the rows at @p indices (any order, duplicates allowed).
    /// @throws std::out_of_range for an index >= len.
    void remove_rows(const std::vector<std::size_t>& indices);

    /// @brief Removes rows [begin, end). Removing a prefix, a suffix or all
    /// rows narrows the window without copying; a middle range copies the rest.
    /// @throws std::out_of_range if begin > end or end > len.
    void remove_range(std::size_t begin, std::size_t end);

    /// @brief Makes the array empty and lets go of its buffer.
    void clear() noexcept;

private:
    template <class T> void check_row(std::size_t i) const {
        if (dtype_of<T>::value != dtype_) {
            throw DTypeError(std::string("VectorArray: elements are ") + dtype_name(dtype_));
        }
        if (i >= len_) {
            throw std::out_of_range("VectorArray: row index out of range");
        }
    }
    static VectorArray allocate(std::size_t len, std::size_t dim, DType dtype, bool zero);
    void check_compatible(const VectorArray& other) const;
    std::size_t row_bytes() const noexcept { return dim_ * itemsize(dtype_); }
    std::size_t stride_bytes() const noexcept { return row_stride_ * itemsize(dtype_); }
    const std::byte* row_ptr(std::size_t i) const noexcept { return data_ + i * stride_bytes(); }
    void grow_for(std::size_t extra_rows);

    std::shared_ptr<void> owner_;
    std::byte* data_ = nullptr;
    std::size_t len_ = 0;
    std::size_t dim_ = 0;
    std::size_t row_stride_ = 0;
    // Rows that fit in the buffer from data_ on, for buffers this class
    // allocated; 0 for memory wrapped from elsewhere.
    std::size_t capacity_ = 0;
    DType dtype_ = DType::float64;
    bool read_only_ = false;
};

}  // namespace scatterpool
