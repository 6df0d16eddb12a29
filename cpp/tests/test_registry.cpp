// scatterpool tests: Registry, the per-worker objects of a pool, and its handles.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include <scatterpool/any_object.hpp>
#include <scatterpool/errors.hpp>
#include <scatterpool/registry.hpp>
#include <scatterpool/remote_object.hpp>

#include "check.hpp"

using scatterpool::AnyObject;
using scatterpool::InvalidRemoteObjectError;
using scatterpool::ObjectId;
using scatterpool::Registry;
using scatterpool::RemoteHandle;

namespace {

std::vector<AnyObject> ints(std::size_t n, int first) {
    std::vector<AnyObject> values;
    for (std::size_t w = 0; w < n; ++w) {
        values.push_back(AnyObject::make<int>(first + static_cast<int>(w)));
    }
    return values;
}

// Counts its live instances, to see when the registry destroys values.
struct Tracked {
    explicit Tracked(std::shared_ptr<int> counter) : live(std::move(counter)) { ++*live; }
    Tracked(const Tracked& other) : live(other.live) { ++*live; }
    ~Tracked() { --*live; }
    std::shared_ptr<int> live;
};

}  // namespace

TEST_CASE(any_object_types) {
    AnyObject none;
    CHECK(!none.has_value());
    CHECK(none.get<int>() == nullptr);
    AnyObject i = AnyObject::make<int>(3);
    CHECK(i.has_value());
    CHECK_EQ(i.as<int>(), 3);
    CHECK(i.get<long>() == nullptr);
    CHECK_THROWS(i.as<std::string>(), std::bad_cast);
    AnyObject shared = i;  // copies share the value
    shared.as<int>() = 4;
    CHECK_EQ(i.as<int>(), 4);
}

TEST_CASE(registry_add_get_release) {
    Registry registry(3);
    CHECK_EQ(registry.num_workers(), std::size_t{3});
    const ObjectId a = registry.add(ints(3, 10));
    const ObjectId b = registry.add(ints(3, 20));
    CHECK(a != b);
    CHECK_EQ(registry.size(), std::size_t{2});
    CHECK_EQ(registry.get(0, a).as<int>(), 10);
    CHECK_EQ(registry.get(2, a).as<int>(), 12);
    CHECK_EQ(registry.get(1, b).as<int>(), 21);
    CHECK_EQ(registry.handles(a), std::size_t{1});
    CHECK(registry.contains(a));

    CHECK(registry.release(a));
    CHECK(!registry.contains(a));
    CHECK_EQ(registry.handles(a), std::size_t{0});
    CHECK(!registry.release(a));  // an unknown id: nothing happens
    CHECK_THROWS_WITH(registry.get(0, a), InvalidRemoteObjectError, "removed");
    CHECK_EQ(registry.size(), std::size_t{1});

    // ids are never reused
    const ObjectId c = registry.add(ints(3, 30));
    CHECK(c != a && c != b);
}

TEST_CASE(registry_argument_errors) {
    CHECK_THROWS(Registry(0), std::invalid_argument);
    Registry registry(2);
    CHECK_THROWS_WITH(registry.add(ints(3, 0)), std::invalid_argument, "3 values for 2 workers");
    const ObjectId a = registry.add(ints(2, 0));
    CHECK_THROWS_WITH(registry.get(2, a), std::out_of_range, "worker 2");
    CHECK_THROWS(registry.add_with_id(a, ints(2, 0)), std::invalid_argument);
    registry.add_with_id(100, ints(2, 5));
    CHECK_EQ(registry.get(1, 100).as<int>(), 6);
    CHECK(registry.add(ints(2, 0)) > 100);  // new ids come after mirrored ones
    CHECK(Registry(1).uid() != registry.uid());
}

TEST_CASE(registry_shared_entries_are_counted) {
    Registry registry(4);
    CHECK(!registry.acquire_shared("key77").has_value());
    const ObjectId id = registry.add_shared("key77", AnyObject::make<std::string>("immutable"));
    for (std::size_t w = 0; w < 4; ++w) {  // one value for all workers
        CHECK(registry.get(w, id).get<std::string>() == registry.get(0, id).get<std::string>());
    }
    CHECK_EQ(registry.add_shared("key77", AnyObject::make<std::string>("not stored")), id);
    const auto again = registry.acquire_shared("key77");
    CHECK(again.has_value() && *again == id);
    CHECK_EQ(registry.handles(id), std::size_t{3});
    CHECK_EQ(registry.get(3, id).as<std::string>(), std::string("immutable"));

    CHECK(!registry.release(id));
    CHECK(!registry.release(id));
    CHECK(registry.contains(id));
    CHECK(registry.release(id));  // the last handle
    CHECK(!registry.contains(id));
    CHECK(!registry.acquire_shared("key77").has_value());
    const ObjectId fresh = registry.add_shared("key77", AnyObject::make<std::string>("new"));
    CHECK(fresh != id);
    CHECK_EQ(registry.get(0, fresh).as<std::string>(), std::string("new"));
}

TEST_CASE(registry_erase_hook) {
    Registry registry(2);
    std::vector<ObjectId> erased;
    auto live = std::make_shared<int>(0);
    registry.set_erase_hook([&](ObjectId id) {
        CHECK_EQ(*live, 0);  // the values are gone before the hook runs
        CHECK(!registry.contains(id));  // and the lock is not held
        erased.push_back(id);
    });
    const ObjectId a = registry.add({AnyObject::make<Tracked>(live), AnyObject::make<Tracked>(live)});
    CHECK_EQ(*live, 2);
    registry.release(a);
    CHECK_EQ(erased, (std::vector<ObjectId>{a}));

    const ObjectId s = registry.add_shared("key1", AnyObject::make<int>(1));
    registry.acquire_shared("key1");
    registry.release(s);
    CHECK_EQ(erased.size(), std::size_t{1});  // still one handle left
    const ObjectId b = registry.add(ints(2, 0));
    registry.clear();
    CHECK_EQ(erased.size(), std::size_t{3});
    CHECK_EQ(registry.size(), std::size_t{0});
    CHECK(!registry.acquire_shared("key1").has_value());
    (void)b;
}

TEST_CASE(registry_erase_hook_exception_is_swallowed) {
    Registry registry(1);
    registry.set_erase_hook([](ObjectId) { throw std::runtime_error("hook failed"); });
    const ObjectId a = registry.add(ints(1, 0));
    CHECK(registry.release(a));
    CHECK(!registry.contains(a));
}

TEST_CASE(remote_handle_releases_once) {
    auto registry = std::make_shared<Registry>(2);
    const ObjectId id = registry->add_shared("key5", AnyObject::make<int>(5));
    registry->acquire_shared("key5");
    {
        RemoteHandle first(registry, id);
        RemoteHandle second(registry, id);
        first.remove();
        first.remove();  // a second remove does nothing
        CHECK(first.removed());
        CHECK_EQ(registry->handles(id), std::size_t{1});
        RemoteHandle moved = std::move(second);
        CHECK(second.removed());
        CHECK(!moved.removed());
        CHECK_EQ(registry->handles(id), std::size_t{1});
    }
    CHECK(!registry->contains(id));
}

TEST_CASE(registry_is_thread_safe) {
    constexpr std::size_t kThreads = 4;
    constexpr int kRounds = 2000;
    auto registry = std::make_shared<Registry>(3);
    std::mutex erased_mutex;
    std::size_t erased = 0;
    registry->set_erase_hook([&](ObjectId) {
        std::lock_guard<std::mutex> lock(erased_mutex);
        ++erased;
    });
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < kRounds; ++round) {
                const ObjectId own = registry->add(ints(3, round));
                CHECK_EQ(registry->get(t % 3, own).as<int>(), round + static_cast<int>(t % 3));
                // every thread shares the same few keys
                const std::string key = "key" + std::to_string(round % 3);
                const ObjectId shared = registry->add_shared(key, AnyObject::make<int>(round));
                CHECK(registry->get(0, shared).has_value());
                CHECK(registry->release(own));
                registry->release(shared);
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    CHECK_EQ(registry->size(), std::size_t{0});
    std::lock_guard<std::mutex> lock(erased_mutex);
    CHECK(erased >= kThreads * kRounds);
}
