// scatterpool: AnyObject, a shared, type-checked, type-erased value.
#pragma once

#include <memory>
#include <typeinfo>
#include <utility>

namespace scatterpool {

/// @brief Holds a value of any type by shared ownership and knows its type.
///
/// The registry stores AnyObjects, so that a C++ program keeps its own types
/// there and the Python bindings keep Python objects, each asking for the
/// type it stored. Copies share the value.
class AnyObject {
public:
    AnyObject() noexcept = default;

    /// @brief Shares ownership of @p value.
    template <class T>
    explicit AnyObject(std::shared_ptr<T> value) noexcept : value_(std::move(value)), type_(&typeid(T)) {}

    /// @brief A new value of type T made from @p args.
    template <class T, class... Args> static AnyObject make(Args&&... args) {
        return AnyObject(std::make_shared<T>(std::forward<Args>(args)...));
    }

    bool has_value() const noexcept { return value_ != nullptr; }

    /// @brief The value if it is a T, else null.
    template <class T> T* get() const noexcept {
        return (type_ != nullptr && *type_ == typeid(T)) ? static_cast<T*>(value_.get()) : nullptr;
    }

    /// @brief The value as a T.
    /// @throws std::bad_cast if it is not a T.
    template <class T> T& as() const {
        T* value = get<T>();
        if (value == nullptr) {
            throw std::bad_cast();
        }
        return *value;
    }

private:
    std::shared_ptr<void> value_;
    const std::type_info* type_ = nullptr;
};

}  // namespace scatterpool
