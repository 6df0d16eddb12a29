// scatterpool: VectorArray, a row-major array of vectors with shared buffers.
#include <scatterpool/vector_array.hpp>

#include <algorithm>
#include <cstring>
#include <string>

#include <scatterpool/buffer.hpp>
#include <scatterpool/even_split.hpp>

namespace scatterpool {

namespace {

std::size_t checked_elements(std::size_t len, std::size_t dim, DType dtype) {
    const std::size_t size = itemsize(dtype);
    if (dim != 0 && len > (SIZE_MAX / size) / dim) {
        throw std::length_error("VectorArray: " + std::to_string(len) + " x " + std::to_string(dim) +
                                " elements do not fit in memory");
    }
    return len * dim;
}

}  // namespace

VectorArray::VectorArray(std::size_t dim, DType dtype) : dim_(dim), row_stride_(dim), dtype_(dtype) {}

VectorArray VectorArray::allocate(std::size_t len, std::size_t dim, DType dtype, bool zero) {
    VectorArray a(dim, dtype);
    const std::size_t n = checked_elements(len, dim, dtype);
    if (n != 0) {
        a.owner_ = allocate_buffer(n * itemsize(dtype), zero);
        a.data_ = static_cast<std::byte*>(a.owner_.get());
    }
    a.len_ = len;
    a.capacity_ = len;
    return a;
}

VectorArray VectorArray::uninitialized(std::size_t len, std::size_t dim, DType dtype) {
    return allocate(len, dim, dtype, false);
}

VectorArray VectorArray::zeros(std::size_t len, std::size_t dim, DType dtype) { return allocate(len, dim, dtype, true); }

VectorArray VectorArray::wrap(void* data, std::size_t len, std::size_t dim, DType dtype, std::size_t row_stride,
                              std::shared_ptr<void> owner, bool read_only) {
    checked_elements(len, dim, dtype);
    if (len > 1 && row_stride < dim) {
        throw std::invalid_argument("VectorArray::wrap: row stride " + std::to_string(row_stride) +
                                    " is smaller than the dimension " + std::to_string(dim));
    }
    if (data == nullptr && len != 0 && dim != 0) {
        throw std::invalid_argument("VectorArray::wrap: no data for a non-empty array");
    }
    VectorArray a(dim, dtype);
    a.owner_ = std::move(owner);
    a.data_ = static_cast<std::byte*>(data);
    a.len_ = len;
    a.row_stride_ = len > 1 ? row_stride : dim;
    a.read_only_ = read_only;
    return a;
}

void* VectorArray::mutable_data() {
    if (read_only_) {
        throw std::logic_error("VectorArray: the array is read-only");
    }
    return data_;
}

VectorArray VectorArray::rows(std::size_t begin, std::size_t end, std::size_t step) const {
    if (step == 0) {
        throw std::invalid_argument("VectorArray::rows: step must not be 0");
    }
    if (begin > end || end > len_) {
        throw std::out_of_range("VectorArray::rows: [" + std::to_string(begin) + ", " + std::to_string(end) +
                                ") is not within 0.." + std::to_string(len_));
    }
    VectorArray v = *this;
    v.len_ = (end - begin + step - 1) / step;
    v.data_ = begin < len_ ? const_cast<std::byte*>(row_ptr(begin)) : nullptr;
    if (v.len_ == 0) {
        v.data_ = nullptr;
        v.owner_.reset();  // an empty view holds nothing alive
    }
    v.row_stride_ = v.len_ > 1 ? row_stride_ * step : dim_;
    // Appending in place needs the buffer alone (see grow_for); a view that
    // starts elsewhere or skips rows never has room behind it.
    v.capacity_ = (begin == 0 && step == 1) ? capacity_ : 0;
    return v;
}

VectorArray VectorArray::take(const std::vector<std::size_t>& indices) const {
    for (std::size_t i : indices) {
        if (i >= len_) {
            throw std::out_of_range("VectorArray: index " + std::to_string(i) + " is out of range for " +
                                    std::to_string(len_) + " vectors");
        }
    }
    VectorArray out = uninitialized(indices.size(), dim_, dtype_);
    const std::size_t bytes = row_bytes();
    for (std::size_t j = 0; j < indices.size(); ++j) {
        std::memcpy(out.data_ + j * bytes, row_ptr(indices[j]), bytes);
    }
    return out;
}

void VectorArray::copy_to(void* dst) const {
    auto* out = static_cast<std::byte*>(dst);
    if (len_ == 0 || dim_ == 0) {
        return;
    }
    if (contiguous()) {
        std::memcpy(out, data_, nbytes());
        return;
    }
    const std::size_t bytes = row_bytes();
    for (std::size_t i = 0; i < len_; ++i) {
        std::memcpy(out + i * bytes, row_ptr(i), bytes);
    }
}

VectorArray VectorArray::copy() const {
    VectorArray out = uninitialized(len_, dim_, dtype_);
    copy_to(out.data_);
    return out;
}

std::vector<VectorArray> VectorArray::partition(std::size_t k, bool copy) const {
    const std::vector<std::size_t> offsets = even_split(len_, k);
    std::vector<VectorArray> parts;
    parts.reserve(k);
    for (std::size_t i = 0; i < k; ++i) {
        VectorArray part = rows(offsets[i], offsets[i + 1]);
        parts.push_back(copy ? part.copy() : std::move(part));
    }
    return parts;
}

void VectorArray::check_compatible(const VectorArray& other) const {
    if (other.dtype_ != dtype_) {
        throw DTypeError(std::string("VectorArray: cannot combine ") + dtype_name(dtype_) + " and " +
                         dtype_name(other.dtype_) + " vectors");
    }
    if (other.dim_ != dim_) {
        throw std::invalid_argument("VectorArray: dimensions differ (" + std::to_string(dim_) + " and " +
                                    std::to_string(other.dim_) + ")");
    }
}

void VectorArray::grow_for(std::size_t extra_rows) {
    const std::size_t needed = len_ + extra_rows;
    const bool in_place = capacity_ >= needed && owner_ && owner_.use_count() == 1 && contiguous();
    if (in_place) {
        return;
    }
    // Geometric growth keeps a loop of single-row appends linear.
    const std::size_t capacity = std::max(needed, len_ + len_ / 2);
    VectorArray bigger = uninitialized(capacity, dim_, dtype_);
    copy_to(bigger.data_);
    bigger.len_ = len_;
    *this = std::move(bigger);
}

void VectorArray::append(const VectorArray& other) {
    check_compatible(other);
    if (other.len_ == 0) {
        return;
    }
    // Copy out first: other may be a view of this very buffer.
    VectorArray rows_in = other.owner_ == owner_ ? other.copy() : other;
    grow_for(rows_in.len_);
    rows_in.copy_to(data_ + len_ * row_bytes());
    len_ += rows_in.len_;
}

void VectorArray::append_from(VectorArray& other) {
    check_compatible(other);
    if (&other == this) {
        throw std::invalid_argument("VectorArray: cannot append an array to itself and empty it");
    }
    if (len_ == 0) {
        *this = std::move(other);
    } else {
        append(other);
    }
    other.clear();
}

void VectorArray::remove_rows(const std::vector<std::size_t>& indices) {
    std::vector<bool> drop(len_, false);
    for (std::size_t i : indices) {
        if (i >= len_) {
            throw std::out_of_range("VectorArray: index " + std::to_string(i) + " is out of range for " +
                                    std::to_string(len_) + " vectors");
        }
        drop[i] = true;
    }
    std::size_t first = 0;
    while (first < len_ && drop[first]) {
        ++first;
    }
    std::size_t last = len_;
    while (last > first && drop[last - 1]) {
        --last;
    }
    const bool gap = std::find(drop.begin() + static_cast<std::ptrdiff_t>(first),
                               drop.begin() + static_cast<std::ptrdiff_t>(last), true) !=
                     drop.begin() + static_cast<std::ptrdiff_t>(last);
    if (!gap) {
        // What is left is one run of rows: narrow the window, copy nothing.
        if (first == last) {
            clear();
            return;
        }
        *this = rows(first, last);
        return;
    }
    std::vector<std::size_t> keep;
    keep.reserve(len_);
    for (std::size_t i = 0; i < len_; ++i) {
        if (!drop[i]) {
            keep.push_back(i);
        }
    }
    *this = take(keep);
}

void VectorArray::remove_range(std::size_t begin, std::size_t end) {
    if (begin > end || end > len_) {
        throw std::out_of_range("VectorArray::remove_range: [" + std::to_string(begin) + ", " +
                                std::to_string(end) + ") is not within 0.." + std::to_string(len_));
    }
    if (begin == end) {
        return;
    }
    if (begin == 0 && end == len_) {
        clear();
    } else if (begin == 0) {
        *this = rows(end, len_);
    } else if (end == len_) {
        *this = rows(0, begin);
    } else {
        VectorArray rest = rows(0, begin).copy();
        rest.append(rows(end, len_));
        *this = std::move(rest);
    }
}

void VectorArray::clear() noexcept {
    owner_.reset();
    data_ = nullptr;
    len_ = 0;
    capacity_ = 0;
    row_stride_ = dim_;
    read_only_ = false;
}

}  // namespace scatterpool
