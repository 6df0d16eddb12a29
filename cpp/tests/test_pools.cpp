// scatterpool tests: the Pool contract, kept by DummyPool and ThreadPool alike.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <scatterpool/scatterpool.hpp>

#include "check.hpp"
#include "pools.hpp"

using scatterpool::current_worker;
using scatterpool::InvalidRemoteObjectError;
using scatterpool::Pool;
using scatterpool::PoolClosedError;
using scatterpool::ReentrantCallError;
using scatterpool::RemoteObject;
using scatterpool::VectorArray;
using scatterpool::test::for_each_pool;

namespace {

// len x 1 float64 rows numbered 0, 1, 2, ...
VectorArray numbered(std::size_t len) {
    VectorArray a = VectorArray::uninitialized(len, 1);
    for (std::size_t i = 0; i < len; ++i) {
        a.row<double>(i)[0] = static_cast<double>(i);
    }
    return a;
}

std::vector<std::size_t> iota(std::size_t n) {
    std::vector<std::size_t> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = i;
    }
    return v;
}

}  // namespace

TEST_CASE(pool_size_and_state) {
    for_each_pool([](Pool& pool) {
        CHECK(pool.size() >= 1);
        CHECK(!pool.closed());
        CHECK(!pool.in_task());
        CHECK_EQ(pool.concurrent(), pool.size() > 1);
        CHECK_EQ(pool.registry()->num_workers(), pool.size());
        CHECK_EQ(pool.uid(), pool.registry()->uid());
    });
}

TEST_CASE(apply_returns_results_in_worker_order) {
    for_each_pool([](Pool& pool) {
        const std::vector<std::size_t> results = pool.apply([](std::size_t w) { return 10 * w; });
        CHECK_EQ(results.size(), pool.size());
        for (std::size_t w = 0; w < results.size(); ++w) {
            CHECK_EQ(results[w], 10 * w);
        }
        // results that are not trivially copyable
        const std::vector<std::string> names = pool.apply([](std::size_t w) { return "worker " + std::to_string(w); });
        CHECK_EQ(names.back(), "worker " + std::to_string(pool.size() - 1));
    });
}

TEST_CASE(apply_runs_once_per_worker_in_its_context) {
    for_each_pool([](Pool& pool) {
        std::vector<std::atomic<int>> calls(pool.size());
        std::vector<std::thread::id> threads(pool.size());
        pool.apply([&](std::size_t w) {
            calls[w].fetch_add(1);
            threads[w] = std::this_thread::get_id();
            const scatterpool::WorkerContext* context = current_worker();
            CHECK(context != nullptr);
            CHECK_EQ(context->index, w);
            CHECK_EQ(context->pool_uid, pool.uid());
            CHECK(pool.in_task());
        });
        for (std::size_t w = 0; w < pool.size(); ++w) {
            CHECK_EQ(calls[w].load(), 1);
        }
        CHECK(current_worker() == nullptr);
        CHECK(!pool.in_task());
        // worker 0 is the calling thread; every other worker has a thread of its own
        CHECK(threads[0] == std::this_thread::get_id());
        for (std::size_t w = 1; w < pool.size(); ++w) {
            for (std::size_t v = 0; v < w; ++v) {
                CHECK(threads[w] != threads[v]);
            }
        }
    });
}

TEST_CASE(apply_only_runs_on_one_worker) {
    for_each_pool([](Pool& pool) {
        for (std::size_t w = 0; w < pool.size(); ++w) {
            std::atomic<int> calls{0};
            const std::size_t ran_on = pool.apply_only(w, [&](std::size_t worker) {
                calls.fetch_add(1);
                CHECK_EQ(current_worker()->index, worker);
                return worker;
            });
            CHECK_EQ(ran_on, w);
            CHECK_EQ(calls.load(), 1);
        }
        std::size_t seen = 99;
        pool.apply_only(pool.size() - 1, [&](std::size_t w) { seen = w; });
        CHECK_EQ(seen, pool.size() - 1);
        const std::string range = "0.." + std::to_string(pool.size() - 1);
        CHECK_THROWS_WITH(pool.apply_only(pool.size(), [](std::size_t) {}), std::out_of_range, range);
        CHECK_THROWS(pool.apply_only(std::size_t(-1), [](std::size_t w) { return w; }), std::out_of_range);
    });
}

TEST_CASE(map_keeps_input_order) {
    for_each_pool([](Pool& pool) {
        const std::size_t k = pool.size();
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, k - 1, k, 3 * k + 1, std::size_t{1000}}) {
            const std::vector<std::size_t> items = iota(n);
            const std::vector<std::size_t> squares = pool.map([](std::size_t x) { return x * x + 1; }, items);
            CHECK_EQ(squares.size(), n);
            for (std::size_t i = 0; i < n; ++i) {
                CHECK_EQ(squares[i], i * i + 1);
            }
            // item i runs on the worker whose even_split chunk holds it
            const std::vector<std::size_t> offsets = scatterpool::even_split(n, k);
            const std::vector<std::size_t> workers =
                pool.map([](std::size_t) { return current_worker()->index; }, items);
            for (std::size_t w = 0; w < k; ++w) {
                for (std::size_t i = offsets[w]; i < offsets[w + 1]; ++i) {
                    CHECK_EQ(workers[i], w);
                }
            }
        }
        const std::vector<std::string> words{"a", "bb", "ccc"};
        const std::vector<std::size_t> lengths = pool.map([](const std::string& s) { return s.size(); }, words);
        CHECK_EQ(lengths, (std::vector<std::size_t>{1, 2, 3}));
    });
}

TEST_CASE(push_gives_each_worker_its_own_copy) {
    for_each_pool([](Pool& pool) {
        const std::vector<int> original{1, 2, 3};
        RemoteObject<std::vector<int>> remote = pool.push(original);
        CHECK_EQ(pool.registry()->size(), std::size_t{1});
        pool.apply([](std::size_t w, std::vector<int>& mine) { mine.push_back(static_cast<int>(w)); }, remote);
        const std::vector<std::vector<int>> seen =
            pool.apply([](std::size_t, std::vector<int>& mine) { return mine; }, remote);
        const std::vector<std::vector<int>*> where =
            pool.apply([](std::size_t, std::vector<int>& mine) { return &mine; }, remote);
        for (std::size_t w = 0; w < pool.size(); ++w) {
            CHECK_EQ(seen[w], (std::vector<int>{1, 2, 3, static_cast<int>(w)}));
            for (std::size_t v = 0; v < w; ++v) {
                CHECK(where[w] != where[v]);
            }
        }
        CHECK_EQ(original.size(), std::size_t{3});
        CHECK_EQ(pool.apply_only(0, [](std::size_t, std::vector<int>& mine) { return mine.size(); }, remote),
                 std::size_t{4});
        remote.remove();
        CHECK(remote.removed());
        CHECK_EQ(pool.registry()->size(), std::size_t{0});
    });
}

TEST_CASE(remote_objects_are_checked) {
    for_each_pool([](Pool& pool) {
        RemoteObject<int> removed = pool.push(1);
        removed.remove();
        auto get = [](std::size_t, int& x) { return x; };
        CHECK_THROWS_WITH(pool.apply(get, removed), InvalidRemoteObjectError, "removed");
        CHECK_THROWS(pool.apply_only(0, get, removed), InvalidRemoteObjectError);
        scatterpool::DummyPool other;
        RemoteObject<int> foreign = other.push(2);
        CHECK_THROWS_WITH(pool.apply(get, foreign), InvalidRemoteObjectError, "another pool");
        // a handle that goes out of scope frees the object
        {
            RemoteObject<int> scoped = pool.push(3);
            CHECK_EQ(pool.registry()->size(), std::size_t{1});
        }
        CHECK_EQ(pool.registry()->size(), std::size_t{0});
    });
}

TEST_CASE(scatter_views_share_the_buffer) {
    for_each_pool([](Pool& pool) {
        for (std::size_t n : {std::size_t{0}, pool.size() - 1, std::size_t{10}, std::size_t{1001}}) {
            VectorArray U = numbered(n);
            const auto* base = static_cast<const double*>(U.data());
            std::weak_ptr<void> buffer = U.owner();
            RemoteObject<VectorArray> parts = pool.scatter(U, false);
            CHECK_EQ(U.len(), std::size_t{0});  // copy=false leaves U empty
            CHECK(!buffer.expired() || n == 0);
            const std::vector<std::size_t> offsets = scatterpool::even_split(n, pool.size());
            pool.apply(
                [&](std::size_t w, VectorArray& part) {
                    CHECK_EQ(part.len(), offsets[w + 1] - offsets[w]);
                    for (std::size_t i = 0; i < part.len(); ++i) {
                        CHECK_EQ(part.row<double>(i), base + offsets[w] + i);  // a view, not a copy
                        CHECK_EQ(part.row<double>(i)[0], static_cast<double>(offsets[w] + i));
                    }
                },
                parts);
            parts.remove();
            CHECK(buffer.expired());
        }
    });
}

TEST_CASE(scatter_copies_leave_the_array_alone) {
    for_each_pool([](Pool& pool) {
        VectorArray U = numbered(23);
        const VectorArray before = U;
        RemoteObject<VectorArray> parts = pool.scatter(U, true);
        CHECK_EQ(U.len(), std::size_t{23});
        CHECK(U.data() == before.data());
        const std::vector<std::size_t> offsets = scatterpool::even_split(23, pool.size());
        const std::vector<double> sums = pool.apply(
            [&](std::size_t w, VectorArray& part) {
                CHECK(part.owner() != U.owner());
                CHECK_EQ(part.len(), offsets[w + 1] - offsets[w]);
                double sum = 0;
                for (std::size_t i = 0; i < part.len(); ++i) {
                    sum += part.row<double>(i)[0];
                    part.row<double>(i)[0] = -1.0;  // the worker's own copy
                }
                return sum;
            },
            parts);
        double total = 0;
        for (double s : sums) {
            total += s;
        }
        CHECK_EQ(total, 22.0 * 23.0 / 2.0);
        for (std::size_t i = 0; i < U.len(); ++i) {
            CHECK_EQ(U.row<double>(i)[0], static_cast<double>(i));
        }
        // partition without a registry entry
        const std::vector<VectorArray> copies = pool.partition(U, true);
        CHECK_EQ(copies.size(), pool.size());
        CHECK_EQ(copies[0].row<double>(0)[0], 0.0);
    });
}

TEST_CASE(apply_with_several_remote_objects) {
    for_each_pool([](Pool& pool) {
        VectorArray U = numbered(50);
        RemoteObject<VectorArray> parts = pool.scatter(U, false);
        RemoteObject<double> scale = pool.push(2.0);
        const std::vector<double> sums = pool.apply(
            [](std::size_t, const VectorArray& part, double& factor) {
                double sum = 0;
                for (std::size_t i = 0; i < part.len(); ++i) {
                    sum += factor * part.row<double>(i)[0];
                }
                return sum;
            },
            parts, scale);
        double total = 0;
        for (double s : sums) {
            total += s;
        }
        CHECK_EQ(total, 2.0 * 49.0 * 50.0 / 2.0);
    });
}

TEST_CASE(exceptions_reach_the_caller_lowest_worker_first) {
    for_each_pool([](Pool& pool) {
        const std::size_t last = pool.size() - 1;
        // every worker but 0 throws; the lowest of them is rethrown
        auto all_but_0 = [](std::size_t w) {
            if (w != 0) {
                throw std::runtime_error("failed on worker " + std::to_string(w));
            }
        };
        if (pool.size() > 1) {
            CHECK_THROWS_WITH(pool.apply(all_but_0), std::runtime_error, "failed on worker 1");
        } else {
            pool.apply(all_but_0);
        }
        // worker 0 throws late, the last worker at once: worker 0's still wins
        auto late_0 = [last](std::size_t w) -> int {
            if (w == 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                throw std::out_of_range("worker 0 threw");
            }
            if (w == last) {
                throw std::invalid_argument("last threw");
            }
            return 1;
        };
        CHECK_THROWS_WITH(pool.apply(late_0), std::out_of_range, "worker 0");
        CHECK_THROWS_WITH(pool.apply_only(last, [](std::size_t w) -> int {
                              throw std::logic_error("only " + std::to_string(w));
                          }),
                          std::logic_error, "only " + std::to_string(last));
        const std::vector<int> items{1, 2, 3, 4, 5, 6, 7};
        CHECK_THROWS_WITH(pool.map(
                              [](int x) {
                                  if (x == 6) {
                                      throw std::domain_error("item 6");
                                  }
                                  return x;
                              },
                              items),
                          std::domain_error, "item 6");
        // the pool still works, and nothing leaked
        const std::vector<std::size_t> after = pool.apply([](std::size_t w) { return w; });
        CHECK_EQ(after.size(), pool.size());
        CHECK_EQ(after.back(), last);
        CHECK_EQ(pool.map([](int x) { return 2 * x; }, items).back(), 14);
        CHECK_EQ(pool.registry()->size(), std::size_t{0});
        CHECK(!pool.closed());
    });
}

TEST_CASE(close_frees_objects_and_refuses_work) {
    for_each_pool([](Pool& pool) {
        RemoteObject<int> remote = pool.push(5);
        VectorArray U = numbered(4);
        RemoteObject<VectorArray> parts = pool.scatter(U, true);
        CHECK_EQ(pool.registry()->size(), std::size_t{2});
        pool.close();
        CHECK(pool.closed());
        CHECK_EQ(pool.registry()->size(), std::size_t{0});
        pool.close();  // twice is fine
        auto nothing = [](std::size_t) {};
        CHECK_THROWS_WITH(pool.apply(nothing), PoolClosedError, "closed");
        CHECK_THROWS(pool.apply([](std::size_t, int& x) { return x; }, remote), PoolClosedError);
        CHECK_THROWS(pool.apply_only(0, nothing), PoolClosedError);
        CHECK_THROWS(pool.map([](int x) { return x; }, std::vector<int>{1, 2}), PoolClosedError);
        CHECK_THROWS(pool.push(1), PoolClosedError);
        CHECK_THROWS(pool.scatter(U, false), PoolClosedError);
        CHECK_EQ(U.len(), std::size_t{4});  // a refused scatter leaves U as it was
        CHECK_THROWS(pool.partition(U, true), PoolClosedError);
        CHECK_THROWS(pool.run_all(nothing), PoolClosedError);
        CHECK_THROWS(pool.run_one(0, nothing), PoolClosedError);
        // PoolClosedError is a std::runtime_error
        CHECK_THROWS(pool.apply(nothing), std::runtime_error);
        remote.remove();  // handles of a closed pool go away quietly
    });
}

TEST_CASE(handles_may_outlive_their_pool) {
    for (const auto& [name, make] : scatterpool::test::pool_kinds()) {
        scatterpool::test::Context context(name);
        RemoteObject<std::vector<double>> remote;
        std::shared_ptr<scatterpool::Registry> registry;
        {
            std::unique_ptr<Pool> pool = make();
            remote = pool->push(std::vector<double>(100, 1.0));
            registry = pool->registry();
        }  // destroyed without close(): the destructor closes
        CHECK_EQ(registry->size(), std::size_t{0});
        remote.remove();
    }
}

TEST_CASE(reentrant_calls_throw) {
    for_each_pool([](Pool& pool) {
        RemoteObject<int> remote = pool.push(1);
        auto nothing = [](std::size_t) {};
        CHECK_THROWS_WITH(pool.apply([&](std::size_t) { pool.apply(nothing); }), ReentrantCallError,
                          "inside one of its own tasks");
        CHECK_THROWS(pool.apply_only(0, [&](std::size_t) { pool.apply_only(0, nothing); }), ReentrantCallError);
        CHECK_THROWS(pool.apply([&](std::size_t) { pool.map([](int x) { return x; }, std::vector<int>{1}); }),
                     ReentrantCallError);
        CHECK_THROWS(pool.apply([&](std::size_t) { (void)pool.push(2); }), ReentrantCallError);
        CHECK_THROWS(pool.apply([&](std::size_t) { pool.close(); }), ReentrantCallError);
        CHECK(!pool.closed());
        // another pool may be used inside a task
        scatterpool::DummyPool inner;
        const std::vector<std::size_t> nested =
            pool.apply([&](std::size_t w) { return inner.apply([w](std::size_t) { return w; })[0]; });
        CHECK_EQ(nested.back(), pool.size() - 1);
        // and the pool still works, with its objects
        CHECK_EQ(pool.apply([](std::size_t, int& x) { return x; }, remote).size(), pool.size());
        CHECK_EQ(pool.registry()->size(), std::size_t{1});
    });
}

TEST_CASE(concurrent_callers) {
    for_each_pool([](Pool& pool) {
        constexpr std::size_t kCallers = 4;
        constexpr std::size_t kRounds = 150;
        RemoteObject<std::size_t> shared = pool.push(std::size_t{7});
        std::vector<std::thread> callers;
        for (std::size_t c = 0; c < kCallers; ++c) {
            callers.emplace_back([&, c] {
                for (std::size_t round = 0; round < kRounds; ++round) {
                    const std::size_t tag = 1000 * c + round;
                    const std::vector<std::size_t> r =
                        pool.apply([tag](std::size_t w, std::size_t& seven) { return tag + w + seven; }, shared);
                    CHECK_EQ(r.size(), pool.size());
                    CHECK_EQ(r.back(), tag + pool.size() - 1 + 7);
                    const std::size_t w = round % pool.size();
                    CHECK_EQ(pool.apply_only(w, [tag](std::size_t v) { return tag + v; }), tag + w);
                    const std::vector<std::size_t> m = pool.map([tag](std::size_t x) { return x + tag; }, iota(5));
                    CHECK_EQ(m[4], tag + 4);
                    RemoteObject<std::size_t> own = pool.push(tag);
                    CHECK_EQ(pool.apply([](std::size_t, std::size_t& x) { return x; }, own)[0], tag);
                }
            });
        }
        for (std::thread& caller : callers) {
            caller.join();
        }
        CHECK_EQ(pool.registry()->size(), std::size_t{1});
    });
}

TEST_CASE(partition_copies_in_slices_and_a_throwing_poll_stops_it) {
    for_each_pool([](Pool& pool) {
        // 4 KiB rows, 24 MiB per worker: each part is copied in several slices
        const std::size_t dim = 512;
        const std::size_t len = pool.size() * 6144 + 5;
        VectorArray U = VectorArray::zeros(len, dim);
        for (std::size_t i = 0; i < len; ++i) {
            U.row<double>(i)[0] = static_cast<double>(i);
            U.row<double>(i)[dim - 1] = -static_cast<double>(i);
        }
        std::size_t polls = 0;  // the poll runs on this thread only
        const std::vector<VectorArray> parts = pool.partition(U, true, [&] { ++polls; });
        CHECK(polls >= 2);  // between the slices of the caller's own part, at least
        const std::vector<std::size_t> offsets = scatterpool::even_split(len, pool.size());
        for (std::size_t w = 0; w < pool.size(); ++w) {
            CHECK_EQ(parts[w].len(), offsets[w + 1] - offsets[w]);
            CHECK(parts[w].owner() != U.owner());
            for (std::size_t i = 0; i < parts[w].len(); ++i) {
                const double row = static_cast<double>(offsets[w] + i);
                if (parts[w].row<double>(i)[0] != row || parts[w].row<double>(i)[dim - 1] != -row) {
                    CHECK_EQ(parts[w].row<double>(i)[0], row);
                    break;
                }
            }
        }

        // a poll that throws (Ctrl-C) ends the copy: the exception reaches the caller
        std::size_t interrupts = 0;
        auto interrupt = [&] {
            ++interrupts;
            throw std::runtime_error("interrupted");
        };
        CHECK_THROWS_WITH(pool.partition(U, true, interrupt), std::runtime_error, "interrupted");
        CHECK_EQ(interrupts, std::size_t{1});  // polled no more once it had thrown
        // the pool works afterwards
        CHECK_EQ(pool.partition(U, true).size(), pool.size());
        CHECK_EQ(pool.apply([](std::size_t w) { return w; }), iota(pool.size()));
    });
}
