// scatterpool: Pool, the interface DummyPool and ThreadPool share.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <scatterpool/any_object.hpp>
#include <scatterpool/errors.hpp>
#include <scatterpool/even_split.hpp>
#include <scatterpool/function_ref.hpp>
#include <scatterpool/registry.hpp>
#include <scatterpool/remote_object.hpp>
#include <scatterpool/vector_array.hpp>

namespace scatterpool {

/// @brief A fixed set of workers, each with its own objects in the pool's Registry.
///
/// Every call is synchronous: it returns when every task it started has
/// finished, and an exception thrown by a task reaches the caller (the lowest
/// worker's, when several throw). A call from inside one of the pool's own
/// tasks throws ReentrantCallError; a call on a closed pool throws
/// PoolClosedError.
class Pool {
public:
    /// @brief A task; receives the index of the worker that runs it.
    using Task = FunctionRef<void(std::size_t)>;
    /// @brief Called now and then while a caller waits; may throw to stop waiting.
    using Poll = FunctionRef<void()>;

    virtual ~Pool() = default;
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    /// @brief The number of workers.
    std::size_t size() const noexcept { return size_; }
    /// @brief Unique in the process (the registry's uid).
    std::uint64_t uid() const noexcept { return registry_->uid(); }
    /// @brief The workers' objects.
    const std::shared_ptr<Registry>& registry() const noexcept { return registry_; }
    bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
    /// @brief Whether tasks of one call may run at the same time on several
    /// workers (each then needs its own copy of anything it mutates).
    virtual bool concurrent() const noexcept = 0;
    /// @brief Whether the calling thread is running a task of this pool.
    bool in_task() const noexcept;

    /// @brief Runs task(w) for every worker w and waits for all of them.
    ///
    /// If @p poll throws, the exception leaves at once: workers that started
    /// finish the task, and the next call waits for them. The callable behind
    /// @p task must then stay alive until that next call begins or the pool
    /// is closed.
    /// @throws the lowest worker's exception, if any task threw.
    virtual void run_all(Task task, Poll poll = {}) = 0;

    /// @brief Runs task(worker) on one worker and waits (see run_all).
    /// @throws std::out_of_range if @p worker >= size().
    virtual void run_one(std::size_t worker, Task task, Poll poll = {}) = 0;

    /// @brief Stops the workers and removes every remote object. Safe to call twice.
    virtual void close() = 0;

    /// @brief Throws PoolClosedError if closed, ReentrantCallError inside one of its tasks.
    void check_open() const;
    /// @brief Throws std::out_of_range naming the range unless worker < size().
    void check_worker(std::size_t worker) const;
    /// @brief Throws InvalidRemoteObjectError if @p handle was removed or is another pool's.
    void check_handle(const RemoteHandle& handle) const;

    /// @brief Gives every worker its own copy of @p value.
    template <class T> RemoteObject<T> push(const T& value) {
        check_open();
        std::vector<AnyObject> values;
        values.reserve(size_);
        for (std::size_t w = 0; w < size_; ++w) {
            values.push_back(AnyObject::make<T>(value));
        }
        return RemoteObject<T>(RemoteHandle(registry_, registry_->add(std::move(values))));
    }

    /// @brief Splits @p U's rows over the workers by even_split.
    /// @param copy false: views of U's buffer; true: each part copied into a
    ///        buffer of its own, by the worker that will use it.
    /// @param poll called by the calling thread between slices of the copy
    ///        and while it waits; if it throws, every worker stops at its
    ///        next slice and the exception leaves once they have.
    std::vector<VectorArray> partition(const VectorArray& U, bool copy, Poll poll = {});

    /// @brief Gives worker i rows offsets[i]..offsets[i+1] of @p U.
    /// @param copy false: the parts are views and @p U is left empty; true: copies, @p U unchanged.
    /// @param poll as for partition().
    RemoteObject<VectorArray> scatter(VectorArray& U, bool copy, Poll poll = {});

    /// @brief Calls f(w, objects on worker w...) on every worker.
    /// @return the results in worker order (nothing if f returns void).
    template <class F, class... T> auto apply(F&& f, const RemoteObject<T>&... objects) {
        (check_handle(objects.handle()), ...);
        using R = std::invoke_result_t<F&, std::size_t, T&...>;
        if constexpr (std::is_void_v<R>) {
            auto task = [&](std::size_t w) { invoke_on(f, w, objects...); };
            run_all(task);
        } else {
            std::vector<std::optional<R>> slots(size_);
            auto task = [&](std::size_t w) { slots[w].emplace(invoke_on(f, w, objects...)); };
            run_all(task);
            return unwrap(slots);
        }
    }

    /// @brief Calls f(worker, objects on that worker...) on one worker.
    template <class F, class... T>
    auto apply_only(std::size_t worker, F&& f, const RemoteObject<T>&... objects) {
        check_worker(worker);
        (check_handle(objects.handle()), ...);
        using R = std::invoke_result_t<F&, std::size_t, T&...>;
        if constexpr (std::is_void_v<R>) {
            auto task = [&](std::size_t w) { invoke_on(f, w, objects...); };
            run_one(worker, task);
        } else {
            std::optional<R> slot;
            auto task = [&](std::size_t w) { slot.emplace(invoke_on(f, w, objects...)); };
            run_one(worker, task);
            return std::move(*slot);
        }
    }

    /// @brief f(item) for every item; each worker takes one even_split chunk.
    /// @return the results in the order of @p items.
    template <class F, class T> auto map(F&& f, const std::vector<T>& items) {
        using R = std::invoke_result_t<F&, const T&>;
        const std::vector<std::size_t> offsets = even_split(items.size(), size_);
        std::vector<std::optional<R>> slots(items.size());
        auto task = [&](std::size_t w) {
            for (std::size_t i = offsets[w]; i < offsets[w + 1]; ++i) {
                slots[i].emplace(f(items[i]));
            }
        };
        run_all(task);
        return unwrap(slots);
    }

protected:
    /// @throws std::invalid_argument if @p size == 0.
    explicit Pool(std::size_t size);
    void mark_closed() noexcept { closed_.store(true, std::memory_order_release); }

private:
    template <class T> struct Held {
        AnyObject object;
        T& value() const { return object.as<T>(); }
    };
    template <class F, class... T> auto invoke_on(F& f, std::size_t w, const RemoteObject<T>&... objects) const {
        return invoke_held(f, w, Held<T>{registry_->get(w, objects.handle().id())}...);
    }
    template <class F, class... H> static auto invoke_held(F& f, std::size_t w, const H&... held) {
        return f(w, held.value()...);
    }
    template <class R> static std::vector<R> unwrap(std::vector<std::optional<R>>& slots) {
        std::vector<R> out;
        out.reserve(slots.size());
        for (auto& slot : slots) {
            out.push_back(std::move(*slot));
        }
        return out;
    }

    const std::size_t size_;
    std::shared_ptr<Registry> registry_;
    std::atomic<bool> closed_{false};
};

}  // namespace scatterpool
