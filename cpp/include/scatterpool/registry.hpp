// scatterpool: Registry, the per-worker objects of a pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <scatterpool/any_object.hpp>

namespace scatterpool {

/// @brief Identifies one remote object in a Registry; never reused.
using ObjectId = std::uint64_t;

/// @brief The objects a pool's workers hold: for every id, one slot per worker.
///
/// Plain entries are created by `add` and go away with one `release`.
/// Shared entries stand for immutable objects: they are keyed by a string
/// naming the object (the Python layer uses its uid), hold one value for all workers, and count their handles,
/// so that `acquire_shared` of a uid already present adds a handle instead of
/// a copy, and the entry goes away when the last handle is released.
///
/// Thread-safe. Values are destroyed outside the registry's lock, so a
/// value's destructor may take other locks (the Python bindings take the GIL).
class Registry {
public:
    /// @throws std::invalid_argument if @p num_workers == 0.
    explicit Registry(std::size_t num_workers);
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    std::size_t num_workers() const noexcept { return num_workers_; }
    /// @brief Unique in the process; tells registries (and so pools) apart.
    std::uint64_t uid() const noexcept { return uid_; }

    /// @brief Stores one value per worker under a new id.
    /// @throws std::invalid_argument unless values.size() == num_workers().
    ObjectId add(std::vector<AnyObject> values);

    /// @brief Stores @p values under @p id (a mirror of another registry's id).
    /// @throws std::invalid_argument if the id is in use or the size is wrong.
    void add_with_id(ObjectId id, std::vector<AnyObject> values);

    /// @brief If an entry for @p key exists, counts one more handle and returns its id.
    std::optional<ObjectId> acquire_shared(const std::string& key);

    /// @brief Counts one more handle to the entry for @p key, storing @p value
    /// for every worker if there is none yet.
    ObjectId add_shared(const std::string& key, AnyObject value);

    /// @brief Worker @p worker's value of @p id.
    /// @throws InvalidRemoteObjectError if there is no such id (removed);
    ///         std::out_of_range if worker >= num_workers().
    AnyObject get(std::size_t worker, ObjectId id) const;

    /// @brief Whether @p id is stored.
    bool contains(ObjectId id) const;

    /// @brief The number of handles to @p id (0 if it is not stored).
    std::size_t handles(ObjectId id) const;

    /// @brief Releases one handle to @p id; the entry goes away with its last one.
    /// @return whether the entry went away now (false for an unknown id).
    bool release(ObjectId id);

    /// @brief The number of stored entries.
    std::size_t size() const;

    /// @brief Removes every entry.
    void clear();

    /// @brief Called with the id of each entry that goes away, after its values
    /// are destroyed, outside the lock. Exceptions from the hook are swallowed:
    /// a removal cannot be undone.
    void set_erase_hook(std::function<void(ObjectId)> hook);

private:
    struct Entry {
        std::vector<AnyObject> values;
        std::size_t handles = 1;
        std::optional<std::string> shared_key;
    };
    void notify_erased(ObjectId id) const noexcept;

    const std::size_t num_workers_;
    const std::uint64_t uid_;
    mutable std::mutex mutex_;
    ObjectId next_id_ = 1;
    std::unordered_map<ObjectId, Entry> entries_;
    std::unordered_map<std::string, ObjectId> shared_;
    std::function<void(ObjectId)> erase_hook_;
};

}  // namespace scatterpool
