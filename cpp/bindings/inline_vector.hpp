// scatterpool bindings: InlineVector, a fixed-size array that lives inline
// when small.
//
// A DummyPool call must not allocate: its argument slots, results and errors
// fit in the object itself. Larger calls (many workers, many arguments) take
// one heap block.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <type_traits>

namespace scatterpool::bindings {

template <class T, std::size_t N> class InlineVector {
    static_assert(std::is_trivially_copyable_v<T>, "InlineVector holds plain values");

public:
    InlineVector() noexcept = default;
    InlineVector(const InlineVector&) = delete;
    InlineVector& operator=(const InlineVector&) = delete;

    /// @brief Makes the array @p n values of @p value (the old values are gone).
    void assign(std::size_t n, T value) {
        if (n > N) {
            heap_ = std::make_unique<T[]>(n);
            data_ = heap_.get();
        } else {
            heap_.reset();
            data_ = inline_;
        }
        size_ = n;
        std::fill(data_, data_ + n, value);
    }

    std::size_t size() const noexcept { return size_; }
    T* data() noexcept { return data_; }
    T* begin() noexcept { return data_; }
    T* end() noexcept { return data_ + size_; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }

private:
    T inline_[N];  // filled by assign: a zeroed array would cost every call a memset
    std::unique_ptr<T[]> heap_;
    T* data_ = inline_;
    std::size_t size_ = 0;
};

}  // namespace scatterpool::bindings
