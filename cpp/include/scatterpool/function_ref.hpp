// scatterpool: FunctionRef, a non-owning reference to a callable.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace scatterpool {

template <class Signature> class FunctionRef;

/// @brief Refers to a callable without owning or copying it.
///
/// Pools take tasks as FunctionRef so that dispatching a call allocates
/// nothing. The callable must outlive every use of the reference.
template <class R, class... Args> class FunctionRef<R(Args...)> {
public:
    FunctionRef() noexcept = default;

    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                                std::is_invocable_r_v<R, F&, Args...>>>
    FunctionRef(F&& f) noexcept  // NOLINT(google-explicit-constructor): a reference converts implicitly
        : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* object, Args... args) -> R {
              return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
          }) {}

    /// @brief Whether the reference refers to a callable.
    explicit operator bool() const noexcept { return call_ != nullptr; }

    R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

private:
    void* object_ = nullptr;
    R (*call_)(void*, Args...) = nullptr;
};

}  // namespace scatterpool
