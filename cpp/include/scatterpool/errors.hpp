// scatterpool: the exception types of the core.
//
// Bad arguments throw the standard types (std::invalid_argument,
// std::out_of_range); these add what the standard ones cannot say.
#pragma once

#include <stdexcept>

namespace scatterpool {

/// @brief A call on a pool that was closed.
class PoolClosedError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// @brief A pool was called from inside one of its own running tasks, which
/// would otherwise deadlock.
class ReentrantCallError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// @brief An element type that does not fit: unsupported, or not the one
/// the operation needs.
class DTypeError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

/// @brief A remote object that was removed, or that belongs to another pool.
class InvalidRemoteObjectError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

}  // namespace scatterpool
