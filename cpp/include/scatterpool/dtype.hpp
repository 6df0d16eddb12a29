// scatterpool: the element types a VectorArray holds.
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>

namespace scatterpool {

/// @brief Element type of a VectorArray.
enum class DType : std::uint8_t { float32, float64, complex64, complex128 };

/// @brief Every DType, in the order of the enum (the one list the bindings expose).
inline constexpr DType kAllDTypes[] = {DType::float32, DType::float64, DType::complex64, DType::complex128};

/// @brief Size of one element in bytes.
constexpr std::size_t itemsize(DType t) noexcept {
    switch (t) {
        case DType::float32: return 4;
        case DType::float64: return 8;
        case DType::complex64: return 8;
        case DType::complex128: return 16;
    }
    return 0;
}

/// @brief NumPy's name of the type ("float64", ...).
constexpr const char* dtype_name(DType t) noexcept {
    switch (t) {
        case DType::float32: return "float32";
        case DType::float64: return "float64";
        case DType::complex64: return "complex64";
        case DType::complex128: return "complex128";
    }
    return "?";
}

/// @brief The DType of a C++ element type, for the typed accessors.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::float64; };
template <> struct dtype_of<std::complex<float>> { static constexpr DType value = DType::complex64; };
template <> struct dtype_of<std::complex<double>> { static constexpr DType value = DType::complex128; };

}  // namespace scatterpool
