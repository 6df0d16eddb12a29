"""ThreadPool only: concurrency, ordering under every chunking, nesting, Ctrl-C, exit, GIL release."""

from __future__ import annotations

import _thread
import gc
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import scatterpool as sp
from conftest import HAS_THREADPOOL, NO_THREADPOOL, THREAD_COUNTS, assert_no_leak, registry_size

pytestmark = pytest.mark.skipif(not HAS_THREADPOOL, reason=NO_THREADPOOL)

HANG_GUARD = 20.0  # seconds: only to turn a hang into a failure, never a measured time


def chunk_of(n, k):
    sizes = [len(c) for c in np.array_split(np.arange(n), k)]
    return [w for w, s in enumerate(sizes) for _ in range(s)]


def run_script(body: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run a Python script in a fresh interpreter; a hang dumps its stacks and fails."""
    prelude = "import faulthandler, sys\nfaulthandler.dump_traceback_later(%r, exit=True)\n" % (timeout - 10)
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )


def _script_process(body: str, timeout: float, **popen) -> subprocess.Popen:
    """Start a Python script (a hang dumps its stacks and ends it after @p timeout)."""
    prelude = f"import faulthandler\nfaulthandler.dump_traceback_later({timeout!r}, exit=True)\n"
    return subprocess.Popen(
        [sys.executable, "-c", prelude + textwrap.dedent(body)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        **popen,
    )


# --------------------------------------------------------------------------- #
# size                                                                         #
# --------------------------------------------------------------------------- #
def test_default_size_is_usable_cpus():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with sp.ThreadPool() as p:
        assert len(p) == expected
        assert p.apply(sp.worker_index) == list(range(expected))


# --------------------------------------------------------------------------- #
# ordering under every chunking                                                #
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def pools_by_size():
    pools = {k: sp.ThreadPool(k) for k in THREAD_COUNTS}
    yield pools
    for p in pools.values():
        assert_no_leak(p)
        p.close()


@pytest.mark.parametrize("k", THREAD_COUNTS)
def test_map_order_under_every_chunking(pools_by_size, k):
    p = pools_by_size[k]
    for n in range(21):
        res = p.map(lambda x, y: (x, y, sp.worker_index()), range(n), [f"s{i}" for i in range(n)])
        assert [r[:2] for r in res] == [(i, f"s{i}") for i in range(n)], f"n={n}"
        assert [r[2] for r in res] == chunk_of(n, k), f"n={n}: items ran on the wrong workers"


@pytest.mark.parametrize("k", THREAD_COUNTS)
def test_scatter_under_every_chunking(pools_by_size, k):
    p = pools_by_size[k]
    for n in range(21):
        A = np.arange(n * 2, dtype=float).reshape(n, 2)
        with p.scatter_array(A, copy=False) as ro:
            got = p.apply(lambda U: U[:, 0].tolist(), U=ro)
        assert list(itertools.chain.from_iterable(got)) == A[:, 0].tolist()
        assert [len(g) for g in got] == [len(c) for c in np.array_split(np.arange(n), k)]


# --------------------------------------------------------------------------- #
# several Python threads share one pool                                        #
# --------------------------------------------------------------------------- #
class Shared(sp.Immutable):
    pass


def _hammer(pool, tid, cycles, shared, errors):
    try:
        n = len(pool)
        for i in range(cycles):
            value = (tid, i)
            ro = pool.push({"v": value})
            sro = pool.push(shared)
            if i % 50 == 0:
                w = i % n
                got = pool.apply_only(lambda x, s: (x["v"], s is shared), w, x=ro, s=sro)
                if got != (value, True):
                    errors.append(f"thread {tid} cycle {i}: got {got!r}, expected {(value, True)!r}")
            if i % 200 == 0:
                res = pool.map(lambda j, x: (j, x["v"]), range(3 * n + 1), x=ro)
                if res != [(j, value) for j in range(3 * n + 1)]:
                    errors.append(f"thread {tid} cycle {i}: map gave {res!r}")
            ro.remove()
            if i % 3:
                sro.remove()
            else:
                del sro  # removal by garbage collection, from several threads at once
    except BaseException as e:
        errors.append(f"thread {tid}: {type(e).__name__}: {e}")


@pytest.mark.parametrize("k", [2, 3])
def test_four_threads_share_one_pool(k):
    shared = Shared()
    cycles = 10_000
    with sp.ThreadPool(k) as pool:
        errors: list[str] = []
        threads = [threading.Thread(target=_hammer, args=(pool, t, cycles, shared, errors)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a thread hung in the pool"
        assert errors == []
        assert_no_leak(pool)
        # still correct afterwards
        assert pool.apply(sp.worker_index) == list(range(k))


def test_concurrent_calls_do_not_mix_results():
    with sp.ThreadPool(3) as pool:
        errors: list[str] = []
        start = threading.Barrier(4)

        def caller(tid):
            try:
                start.wait(timeout=HANG_GUARD)
                for _ in range(300):
                    res = pool.map(lambda x, t: (t, x), range(10), t=tid)
                    if res != [(tid, x) for x in range(10)]:
                        errors.append(f"{tid}: {res}")
                    if pool.apply(lambda t: t, tid) != [tid] * 3:
                        errors.append(f"{tid}: apply mixed")
            except BaseException as e:
                errors.append(f"{tid}: {type(e).__name__}: {e}")

        threads = [threading.Thread(target=caller, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert errors == []


# --------------------------------------------------------------------------- #
# a call from inside one of the pool's own workers                             #
# --------------------------------------------------------------------------- #
NESTED_SCRIPT = """
import gc, json
import scatterpool as sp

k = {k}
pool = sp.ThreadPool(k)
out = {{}}

def outcome(fn):
    try:
        fn()
        return "ok"
    except RuntimeError as e:
        return "RuntimeError: " + str(e)
    except BaseException as e:
        return "other " + type(e).__name__ + ": " + str(e)

def nested_apply():
    return pool.apply(lambda: 1)

out["apply-in-apply"] = outcome(lambda: pool.apply(nested_apply))
out["apply-in-apply_only-last"] = outcome(lambda: pool.apply_only(nested_apply, k - 1))
out["map-in-map"] = outcome(lambda: pool.map(lambda x: pool.map(abs, [x]), range(2 * k)))
out["push-in-apply"] = outcome(lambda: pool.apply(lambda: pool.push(1)))
out["apply_only-in-apply_only-0"] = outcome(lambda: pool.apply_only(lambda: pool.apply_only(abs, 0, -1), 0))
out["works-after"] = pool.apply(sp.worker_index) == list(range(k))

# another pool may be used from inside a worker
other = sp.DummyPool()
out["dummy-inside"] = pool.apply(lambda: other.apply(lambda: 5)) == [[5]] * k

# a handle that is garbage-collected on a worker thread, during a call
class Holder:
    pass
gc.collect()
gc.disable()
h = Holder(); h.me = h; h.ro = pool.push([1, 2, 3]); del h
out["gc-inside"] = outcome(lambda: pool.apply_only(lambda: gc.collect(), k - 1))
h = Holder(); h.me = h; h.ro = pool.push([1, 2, 3]); del h
out["gc-inside-0"] = outcome(lambda: pool.apply(lambda: gc.collect()))
gc.enable()
gc.collect()
out["registry-after-gc"] = pool._registry_size()

# an explicit remove() inside a worker works (the handle is not the pool's call)
ro = pool.push([4])
out["remove-inside"] = outcome(lambda: pool.apply_only(lambda: ro.remove(), k - 1))
ro.remove()
gc.collect()
out["registry-end"] = pool._registry_size()
out["works-end"] = pool.apply(sp.worker_index) == list(range(k))
pool.close()
print("RESULT " + json.dumps(out))
"""


@pytest.mark.parametrize("k", THREAD_COUNTS)
def test_call_from_inside_a_worker_raises_instead_of_deadlocking(k):
    proc = run_script(NESTED_SCRIPT.format(k=k))
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    keys = ["apply-in-apply", "apply-in-apply_only-last", "map-in-map", "push-in-apply", "apply_only-in-apply_only-0"]
    for key in keys:
        assert out[key].startswith("RuntimeError: "), f"{key}: {out[key]}"
        assert len(out[key]) > len("RuntimeError: ") + 10, f"{key}: the message says too little: {out[key]}"
    assert out["works-after"] is True
    assert out["dummy-inside"] is True
    assert out["gc-inside"] == "ok" and out["gc-inside-0"] == "ok"
    assert out["registry-after-gc"] == 0
    assert out["remove-inside"] == "ok"
    assert out["registry-end"] == 0
    assert out["works-end"] is True
    assert "Exception ignored" not in proc.stderr, proc.stderr[-4000:]


# --------------------------------------------------------------------------- #
# Ctrl-C                                                                       #
# --------------------------------------------------------------------------- #
def _interrupt_after(*events: threading.Event) -> threading.Thread:
    """Interrupt the main thread once every event is set (a worker entered f, the caller's own share is done)."""

    def run():
        if all(event.wait(HANG_GUARD) for event in events):
            _thread.interrupt_main()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _expect_interrupt(pool, call, release: threading.Event, helper: threading.Thread):
    interrupted = False
    try:
        call()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        release.set()
        helper.join(HANG_GUARD)
    assert interrupted, "Ctrl-C did not interrupt the waiting caller"
    # the pool is usable afterwards (it first lets the abandoned call finish)
    n = len(pool)
    assert pool.apply(sp.worker_index) == list(range(n))
    assert pool.map(lambda x: -x, range(3 * n)) == [-x for x in range(3 * n)]


@pytest.fixture
def main_thread_only():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("interrupt_main needs the test to run in the main thread")


def test_ctrl_c_while_waiting_in_apply_only(thread_pool, main_thread_only):
    n = len(thread_pool)
    if n < 2:
        pytest.skip("the caller is worker 0; with one worker it never only waits")
    entered, release, finished_by_release = threading.Event(), threading.Event(), []

    def f():
        entered.set()
        finished_by_release.append(release.wait(HANG_GUARD))

    helper = _interrupt_after(entered)
    _expect_interrupt(thread_pool, lambda: thread_pool.apply_only(f, n - 1), release, helper)
    # the worker was still blocked when the caller was interrupted: the interruption was prompt
    assert finished_by_release == [True]


def test_ctrl_c_while_waiting_in_apply(thread_pool, main_thread_only):
    n = len(thread_pool)
    if n < 2:
        pytest.skip("needs a worker other than the caller")
    entered, own_share_done, release = threading.Event(), threading.Event(), threading.Event()
    finished_by_release = []

    def f():
        if sp.worker_index() == 0:
            own_share_done.set()  # the caller's own share is done; then it waits for the others
            return 0
        entered.set()
        finished_by_release.append(release.wait(HANG_GUARD))
        return 1

    helper = _interrupt_after(entered, own_share_done)
    ro = thread_pool.push([1])
    _expect_interrupt(thread_pool, lambda: thread_pool.apply(f), release, helper)
    assert finished_by_release == [True] * (n - 1)
    assert thread_pool.apply(lambda x: x, x=ro) == [[1]] * n
    ro.remove()


def test_ctrl_c_while_waiting_in_map(thread_pool, main_thread_only):
    n = len(thread_pool)
    if n < 2:
        pytest.skip("needs a worker other than the caller")
    entered, own_share_done, release = threading.Event(), threading.Event(), threading.Event()
    finished_by_release = []

    def f(x):
        if sp.worker_index() == 0:
            own_share_done.set()  # the caller's one item is done; then it waits for the others
        if sp.worker_index() == n - 1:
            entered.set()
            finished_by_release.append(release.wait(HANG_GUARD))
        return x

    helper = _interrupt_after(entered, own_share_done)
    _expect_interrupt(thread_pool, lambda: thread_pool.map(f, range(n)), release, helper)
    assert finished_by_release == [True]


def test_ctrl_c_in_python_code_on_the_calling_thread(thread_pool, main_thread_only):
    # Ctrl-C lands in f on worker 0, which the caller's thread runs: the call
    # raises at once, the other workers' shares are abandoned (still blocked).
    n = len(thread_pool)
    entered = [threading.Event() for _ in range(n)]
    release = threading.Event()
    finished_by_release = []

    def f():
        entered[sp.worker_index()].set()
        if sp.worker_index() == 0:
            while not release.is_set():  # Python code, where interrupt_main lands
                pass
        else:
            finished_by_release.append(release.wait(HANG_GUARD))

    helper = _interrupt_after(*entered)
    _expect_interrupt(thread_pool, lambda: thread_pool.apply(f), release, helper)
    # worker 0's wait was interrupted; every other worker was released only after the caller had raised
    assert finished_by_release == [True] * (n - 1)


CTRL_C_SCRIPT = """
import json, os, threading, time
import scatterpool as sp

k = {k}
pool = sp.ThreadPool(k)
release = threading.Event()
finished = []

def f(*_):
    os.write({started_fd}, b"s")  # tells the test that this worker is inside f
    if sp.worker_index() == 0:  # the caller's own share: Ctrl-C lands here
        if {busy}:
            while not release.is_set():
                pass
        else:
            time.sleep(600)
    else:
        finished.append(release.wait(600))
    return sp.worker_index()

out = {{}}
try:
    pool.{call}(f{args})
    out["raised"] = "nothing"
except KeyboardInterrupt:
    out["raised"] = "KeyboardInterrupt"
out["finished-before"] = len(finished)
release.set()
out["apply-after"] = pool.apply(sp.worker_index)
out["map-after"] = pool.map(lambda x: -x, range(2 * k))
out["finished-after"] = finished
pool.close()
print("RESULT " + json.dumps(out))
"""


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("call", ["apply", "map"])
@pytest.mark.parametrize("busy", [False, True], ids=["sleeping", "looping"])
def test_ctrl_c_in_the_callers_own_share_raises_at_once(k, call, busy):
    # Ctrl-C (a real SIGINT) while every worker is inside f: worker 0 (the
    # caller's thread) sleeps or loops, the others wait for an event that
    # only the caller sets, after it was interrupted. The caller must raise
    # KeyboardInterrupt at once (waiting for the others would hang), and the
    # pool works afterwards.
    started_r, started_w = os.pipe()
    script = CTRL_C_SCRIPT.format(
        k=k, started_fd=started_w, busy=busy, call=call, args=", range(k)" if call == "map" else ""
    )
    proc = _script_process(script, HANG_GUARD, pass_fds=(started_w,))
    os.close(started_w)
    try:
        started = b""
        while len(started) < k:  # every worker is inside f
            ready, _, _ = select.select([started_r], [], [], HANG_GUARD)
            assert ready, "the workers did not start"
            started += os.read(started_r, k)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=2 * HANG_GUARD)
    finally:
        os.close(started_r)
        proc.kill()
    assert proc.returncode == 0, stderr[-4000:]
    out = json.loads(stdout.split("RESULT ", 1)[1])
    assert out["raised"] == "KeyboardInterrupt"
    assert out["finished-before"] == 0  # the caller did not wait for the other workers
    assert out["finished-after"] == [True] * (k - 1)  # they finished once released; the next call waited
    assert out["apply-after"] == list(range(k))
    assert out["map-after"] == [-x for x in range(2 * k)]


SCATTER_CTRL_C_SCRIPT = """
import json, os, signal, threading
import numpy as np
import scatterpool as sp

pool = {make}
U = np.ones((200_000, 125))  # 200 MB: copying it takes long enough to be interrupted in the middle
caught_in_a_copy = []
handled = threading.Event()

def in_the_copy():
    # worker 0's share of the copy runs on this thread, in the pool's task
    try:
        return sp.worker_index() == 0
    except RuntimeError:
        return False

def on_sigint(signum, frame):
    inside = in_the_copy()
    caught_in_a_copy.append(inside)
    handled.set()
    if inside:
        raise KeyboardInterrupt

signal.signal(signal.SIGINT, on_sigint)
done = threading.Event()

def press_ctrl_c_until_done():
    # one SIGINT at a time, each handled before the next: those handled
    # outside the copy (before it began) are ignored by the handler
    while not done.is_set():
        handled.clear()
        os.kill(os.getpid(), signal.SIGINT)
        handled.wait(60)

presser = threading.Thread(target=press_ctrl_c_until_done)
presser.start()
out = {{}}
try:
    pool.scatter_array(U, copy=True)
    out["raised"] = "nothing"
except KeyboardInterrupt:
    out["raised"] = "KeyboardInterrupt"
done.set()
presser.join()
signal.signal(signal.SIGINT, signal.default_int_handler)
out["caught-in-a-copy"] = any(caught_in_a_copy)
ro = pool.scatter_array(U[:1000], copy=True)
out["after"] = sum(pool.apply(lambda V: float(V.sum()), V=ro))
ro.remove()
pool.close()
print("RESULT " + json.dumps(out))
"""


@pytest.mark.parametrize("make", ["sp.DummyPool()", "sp.ThreadPool(1)", "sp.ThreadPool(2)"])
def test_ctrl_c_interrupts_scatter_array_copy(make):
    # Ctrl-C during the copy of scatter_array(copy=True) raises
    # KeyboardInterrupt from inside the copy, and the pool works afterwards.
    proc = run_script(SCATTER_CTRL_C_SCRIPT.format(make=make))
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert out["raised"] == "KeyboardInterrupt"
    assert out["caught-in-a-copy"] is True
    assert out["after"] == 1000 * 125


# --------------------------------------------------------------------------- #
# interpreter exit with a pool that was never closed                           #
# --------------------------------------------------------------------------- #
EXIT_SCRIPTS = {
    "plain": """
        import scatterpool as sp
        p = sp.ThreadPool(2)
        ro = p.push({"a": [1, 2]})
        assert p.apply(lambda x: x["a"], x=ro) == [[1, 2]] * 2
        print("done")
    """,
    "cycle-and-arrays": """
        import numpy as np, scatterpool as sp
        p = sp.ThreadPool(2)
        class Holder: pass
        h = Holder(); h.me = h; h.pool = p
        h.ro = p.scatter_array(np.ones((1000, 10)), copy=False)
        h.va = p.scatter_array(sp.VectorArray.zeros(10, 3), copy=True)
        h.imm = p.push(sp.Immutable())
        del p
        print("done")
    """,
    "many-pools": """
        import scatterpool as sp
        pools = [sp.ThreadPool(k) for k in (1, 2, 3, 7)]
        handles = [p.push([k]) for k, p in enumerate(pools)]
        pools[0].close()
        print("done")
    """,
    "busy-daemon-caller": """
        import threading, time, scatterpool as sp
        p = sp.ThreadPool(2)
        started = threading.Event()
        def f():
            started.set()
            time.sleep(0.3)
        t = threading.Thread(target=lambda: p.apply(f), daemon=True)
        t.start()
        started.wait(10)
        print("done")
    """,
}


@pytest.mark.parametrize("name", list(EXIT_SCRIPTS))
def test_unclosed_pool_does_not_hang_exit(name):
    proc = run_script(EXIT_SCRIPTS[name], timeout=20 + 10)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip() == "done"
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr[-4000:]


DAEMON_AT_EXIT_SCRIPT = """
import threading, time
import scatterpool as sp

pool = {make}
inside = threading.Event()

def f():
    inside.set()
    time.sleep(0.001)  # lets go of the GIL and takes it back, as the interpreter may be finalizing

def call_until_closed():
    while True:
        try:
            pool.apply(f)
        except sp.PoolClosedError:
            return  # the pool was closed at exit

threading.Thread(target=call_until_closed, daemon=True).start()
inside.wait(60)
print("done")
"""


@pytest.mark.parametrize("make", ["sp.DummyPool()", "sp.ThreadPool(1)", "sp.ThreadPool(3)"])
def test_daemon_thread_inside_a_call_at_exit_does_not_abort(make):
    # A daemon thread that takes the GIL back while the interpreter finalizes
    # is ended by pthread_exit, whose forced unwinding must pass every
    # handler of the pool call (swallowed, the process aborts). The thread is
    # in the right place only in some runs: 20 runs, side by side.
    procs = [_script_process(DAEMON_AT_EXIT_SCRIPT.format(make=make), HANG_GUARD) for _ in range(20)]
    results = [(*proc.communicate(timeout=2 * HANG_GUARD), proc.returncode) for proc in procs]
    for stdout, stderr, returncode in results:
        assert returncode == 0, f"exit status {returncode}: {stderr[-4000:]}"
        assert stdout.strip() == "done"


# --------------------------------------------------------------------------- #
# the GIL: f that releases it runs in parallel                                 #
# --------------------------------------------------------------------------- #
def test_workers_run_at_the_same_time(thread_pool):
    n = len(thread_pool)
    barrier = threading.Barrier(n)
    # Barrier.wait releases the GIL; it only returns once all n workers are inside f at once
    res = thread_pool.apply(lambda: barrier.wait(timeout=HANG_GUARD))
    assert sorted(res) == list(range(n))
    barrier = threading.Barrier(n)
    res = thread_pool.map(lambda _: barrier.wait(timeout=HANG_GUARD), range(n))
    assert sorted(res) == list(range(n))


def test_gil_releasing_numpy_kernels_are_correct(thread_pool):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((20_000, 64))
    with thread_pool.scatter_array(A, copy=True) as ro:
        grams = thread_pool.apply(lambda U: U.T @ U, U=ro)
        norms = thread_pool.apply(lambda U: np.linalg.norm(U, axis=1), U=ro)
    np.testing.assert_allclose(sum(grams), A.T @ A, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(np.concatenate(norms), np.linalg.norm(A, axis=1), rtol=1e-12)
    B = rng.standard_normal((64, 64))
    res = thread_pool.map(lambda s: float(np.linalg.eigvalsh(B @ B.T + s * np.eye(64)).sum()), range(16))
    expected = [float(np.linalg.eigvalsh(B @ B.T + s * np.eye(64)).sum()) for s in range(16)]
    np.testing.assert_allclose(res, expected, rtol=1e-10)


def test_copy_true_parts_are_first_touched_by_their_worker(thread_pool):
    # correctness of the parallel per-worker copy, with a size that spans many pages
    A = np.arange(300_000, dtype=np.float64).reshape(-1, 3)
    with thread_pool.scatter_array(A, copy=True) as ro:
        sums = thread_pool.apply(lambda U: float(U.sum()), U=ro)
        owned = thread_pool.apply(lambda U: not np.shares_memory(U, A), U=ro)
    assert sum(sums) == float(A.sum())
    assert all(owned)


def test_registry_is_per_worker(thread_pool):
    n = len(thread_pool)
    ro = thread_pool.push({"n": 0})
    size = registry_size(thread_pool)
    thread_pool.apply(lambda x: x.__setitem__("n", sp.worker_index()), x=ro)
    assert thread_pool.apply(lambda x: x["n"], x=ro) == list(range(n))
    ro.remove()
    assert size > registry_size(thread_pool)
    gc.collect()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # Python 3.12+ warns on fork with threads
def test_pool_is_closed_in_a_forked_child():
    # The child of a fork has none of the pool's threads: the pool must refuse
    # work there (PoolClosedError) instead of waiting forever, and the parent's
    # pool keeps working.
    pool = sp.ThreadPool(2)
    try:
        assert pool.apply(lambda: 1) == [1, 1]
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            code = 3
            try:
                pool.apply(lambda: 1)
            except sp.PoolClosedError:
                code = 0
            except BaseException:
                code = 2
            os.write(w, bytes([code]))
            os._exit(code)
        os.close(w)
        _, status = os.waitpid(pid, 0)
        got = os.read(r, 1)
        os.close(r)
        assert got == b"\x00" and os.WEXITSTATUS(status) == 0
        assert pool.apply(lambda: 2) == [2, 2]
    finally:
        pool.close()


FORKED_CHILD_EXIT_SCRIPT = """
import os, signal, sys
import scatterpool as sp

for attempt in range(3):
    pool = sp.ThreadPool(2, spin_us=0)  # idle threads sleep on their condition variables at once
    pool.apply(lambda: 1)
    pid = os.fork()
    if pid == 0:
        signal.alarm(20)  # a child that hangs is ended by SIGALRM, which the parent sees
        if {delete}:
            del pool
            os._exit(0)
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"attempt {{attempt}}: child status {{status}}"
    pool.close()
print("done")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("delete", [False, True], ids=["exit", "del"])
def test_forked_child_exits_with_an_inherited_pool(delete):
    # The child inherits the pool's mutexes and condition variables in
    # whatever state the parent's threads left them; exiting, or dropping the
    # pool, must not wait for threads that do not exist there.
    # Not run_script: its faulthandler watchdog thread is not in the child, whose exit would wait for it.
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORKED_CHILD_EXIT_SCRIPT.format(delete=delete))],
        capture_output=True,
        text=True,
        timeout=3 * 20 + 30,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip() == "done"
