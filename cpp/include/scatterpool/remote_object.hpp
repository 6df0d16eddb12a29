// scatterpool: handles to the objects a pool's workers hold.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include <scatterpool/registry.hpp>

namespace scatterpool {

/// @brief Owns one handle to an entry of a Registry; releases it when
/// removed or destroyed. Move-only.
class RemoteHandle {
public:
    RemoteHandle() noexcept = default;
    /// @brief Takes over a handle that @p registry already counted for @p id.
    RemoteHandle(std::shared_ptr<Registry> registry, ObjectId id) noexcept
        : registry_(std::move(registry)), id_(id) {}
    RemoteHandle(RemoteHandle&& other) noexcept
        : registry_(std::move(other.registry_)), id_(std::exchange(other.id_, 0)) {}
    RemoteHandle& operator=(RemoteHandle&& other) noexcept {
        if (this != &other) {
            remove();
            registry_ = std::move(other.registry_);
            id_ = std::exchange(other.id_, 0);
        }
        return *this;
    }
    RemoteHandle(const RemoteHandle&) = delete;
    RemoteHandle& operator=(const RemoteHandle&) = delete;
    ~RemoteHandle() { remove(); }

    /// @brief Releases the handle: the object leaves every worker once its
    /// last handle is gone. Calling it again does nothing.
    void remove() noexcept {
        if (registry_) {
            std::shared_ptr<Registry> registry = std::move(registry_);
            try {
                registry->release(id_);
            } catch (...) {
                // release only throws on allocation failure; the entry stays.
            }
        }
    }

    bool removed() const noexcept { return registry_ == nullptr; }
    ObjectId id() const noexcept { return id_; }
    /// @brief The registry the object lives in (null once removed).
    const std::shared_ptr<Registry>& registry() const noexcept { return registry_; }

private:
    std::shared_ptr<Registry> registry_;
    ObjectId id_ = 0;
};

/// @brief A handle to an object of type T held by every worker of a pool.
template <class T> class RemoteObject {
public:
    RemoteObject() noexcept = default;
    explicit RemoteObject(RemoteHandle handle) noexcept : handle_(std::move(handle)) {}

    /// @brief See RemoteHandle::remove.
    void remove() noexcept { handle_.remove(); }
    bool removed() const noexcept { return handle_.removed(); }
    const RemoteHandle& handle() const noexcept { return handle_; }

private:
    RemoteHandle handle_;
};

}  // namespace scatterpool
