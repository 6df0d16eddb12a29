// scatterpool: Registry, the per-worker objects of a pool.
#include <scatterpool/registry.hpp>

#include <atomic>
#include <stdexcept>
#include <string>

#include <scatterpool/errors.hpp>

namespace scatterpool {

namespace {
std::atomic<std::uint64_t> g_next_registry_uid{1};
}  // namespace

Registry::Registry(std::size_t num_workers)
    : num_workers_(num_workers), uid_(g_next_registry_uid.fetch_add(1, std::memory_order_relaxed)) {
    if (num_workers == 0) {
        throw std::invalid_argument("Registry: the number of workers must be at least 1, got 0");
    }
}

Registry::~Registry() {
    // Destroy the values before the members go, and without calling the hook:
    // whoever owned this registry is gone.
    std::unordered_map<ObjectId, Entry> entries;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        entries.swap(entries_);
    }
}

ObjectId Registry::add(std::vector<AnyObject> values) {
    if (values.size() != num_workers_) {
        throw std::invalid_argument("Registry::add: " + std::to_string(values.size()) + " values for " +
                                    std::to_string(num_workers_) + " workers");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    const ObjectId id = next_id_++;
    entries_.emplace(id, Entry{std::move(values), 1, std::nullopt});
    return id;
}

void Registry::add_with_id(ObjectId id, std::vector<AnyObject> values) {
    if (values.size() != num_workers_) {
        throw std::invalid_argument("Registry::add_with_id: " + std::to_string(values.size()) + " values for " +
                                    std::to_string(num_workers_) + " workers");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (!entries_.emplace(id, Entry{std::move(values), 1, std::nullopt}).second) {
        throw std::invalid_argument("Registry::add_with_id: id " + std::to_string(id) + " is in use");
    }
    if (id >= next_id_) {
        next_id_ = id + 1;
    }
}

std::optional<ObjectId> Registry::acquire_shared(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = shared_.find(key);
    if (found == shared_.end()) {
        return std::nullopt;
    }
    ++entries_.at(found->second).handles;
    return found->second;
}

ObjectId Registry::add_shared(const std::string& key, AnyObject value) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto found = shared_.find(key);
    if (found != shared_.end()) {
        ++entries_.at(found->second).handles;
        const ObjectId id = found->second;
        lock.unlock();  // value is destroyed after the lock is released
        return id;
    }
    const ObjectId id = next_id_++;
    entries_.emplace(id, Entry{std::vector<AnyObject>(num_workers_, value), 1, key});
    shared_.emplace(key, id);
    lock.unlock();
    return id;
}

AnyObject Registry::get(std::size_t worker, ObjectId id) const {
    if (worker >= num_workers_) {
        throw std::out_of_range("Registry::get: worker " + std::to_string(worker) + " is not in 0.." +
                                std::to_string(num_workers_ - 1));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = entries_.find(id);
    if (found == entries_.end()) {
        throw InvalidRemoteObjectError("remote object " + std::to_string(id) + " was removed");
    }
    return found->second.values[worker];
}

bool Registry::contains(ObjectId id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.count(id) != 0;
}

std::size_t Registry::handles(ObjectId id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = entries_.find(id);
    return found == entries_.end() ? 0 : found->second.handles;
}

bool Registry::release(ObjectId id) {
    Entry erased;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = entries_.find(id);
        if (found == entries_.end()) {
            return false;
        }
        if (--found->second.handles != 0) {
            return false;
        }
        if (found->second.shared_key) {
            shared_.erase(*found->second.shared_key);
        }
        erased = std::move(found->second);
        entries_.erase(found);
    }
    erased.values.clear();
    notify_erased(id);
    return true;
}

std::size_t Registry::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

void Registry::clear() {
    std::unordered_map<ObjectId, Entry> entries;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        entries.swap(entries_);
        shared_.clear();
    }
    std::vector<ObjectId> ids;
    ids.reserve(entries.size());
    for (const auto& entry : entries) {
        ids.push_back(entry.first);
    }
    entries.clear();
    for (ObjectId id : ids) {
        notify_erased(id);
    }
}

void Registry::set_erase_hook(std::function<void(ObjectId)> hook) {
    std::function<void(ObjectId)> old;
    std::lock_guard<std::mutex> lock(mutex_);
    old.swap(erase_hook_);
    erase_hook_ = std::move(hook);
}

void Registry::notify_erased(ObjectId id) const noexcept {
    std::function<void(ObjectId)> hook;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        hook = erase_hook_;
    }
    if (hook) {
        try {
            hook(id);
        } catch (...) {
            // A removal cannot be undone; the hook reports its own failures.
        }
    }
}

}  // namespace scatterpool
