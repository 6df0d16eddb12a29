"""MPIPool.spawn: worker processes started without mpiexec, and that none is left behind.

Every case runs in a fresh Python process (a script, or ``python -c`` as a
notebook kernel runs code), with a timeout: MPI is initialised once per
process, and a hang must fail the test, not stall the run. Process ids are
reported by the child on stdout as JSON; "gone" means that no such process
runs any more (an exited process that nobody reaped counts as gone).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mpi_launch import environment, launch, require_mpi, run

require_mpi()

GONE_TIMEOUT = 60.0  # seconds for processes to end: generous, a loaded machine is slow to reap

# Functions for the scripts: the worker processes and the helpers MPICH started for them.
PRELUDE = textwrap.dedent(
    """
    import json, os, sys

    def descendants(pid):
        children = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        stat = f.read()
                except OSError:
                    continue
                ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
                children.setdefault(ppid, []).append(int(entry))
        found, todo = [], [pid]
        while todo:
            for child in children.get(todo.pop(), []):
                found.append(child)
                todo.append(child)
        return found

    def report(**values):
        print(json.dumps(values), flush=True)

    def running(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except FileNotFoundError:
            return False
        return stat[stat.rfind(")") + 2] not in "ZXx"  # an exited process nobody reaped is gone

    def wait_gone(pids, timeout):
        # the pids still running after `timeout` seconds of polling (empty: all gone)
        import time
        deadline = time.monotonic() + timeout
        left = [p for p in pids if running(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [p for p in left if running(p)]
        return left
    """
)
_helpers: dict = {}
exec(PRELUDE, _helpers)
running = _helpers["running"]


def wait_gone(pids: list[int]) -> list[int]:
    return _helpers["wait_gone"](pids, GONE_TIMEOUT)


def run_script(tmp_path: Path, body: str, timeout: float = 120, env: dict[str, str] | None = None):
    path = tmp_path / "script.py"
    path.write_text(PRELUDE + textwrap.dedent(body))
    return run([sys.executable, str(path)], timeout, env=env or environment(), cwd=tmp_path)


def reports(stdout: str) -> dict:
    """The JSON lines of a script, merged."""
    out: dict = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            out.update(json.loads(line))
    return out


def path_without_mpiexec() -> str:
    bindir = os.path.dirname(sys.executable)
    return os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin") if p != bindir)


# --------------------------------------------------------------------------- #
# the pool                                                                     #
# --------------------------------------------------------------------------- #
def test_spawned_pool_serves_the_calls(tmp_path):
    r = run_script(
        tmp_path,
        """
        import numpy as np
        import scatterpool as sp
        from scatterpool.mpi import MPIPool

        pool = MPIPool.spawn(3, seed=5)
        assert isinstance(pool, MPIPool)
        pids = pool.apply(os.getpid)
        U = np.arange(14.0).reshape(7, 2)
        rows = pool.scatter_array(U)
        pushed = pool.push({"k": 3})
        chunks = pool.scatter_list(list(range(5)))
        report(
            size=len(pool),
            pids=pids,
            spawned=pool.pids,
            parent=os.getpid(),
            helpers=descendants(os.getpid()),
            sums=[float(s) for s in pool.apply(lambda a: a.sum(), rows)],
            pushed=pool.apply(lambda d: d["k"], pushed),
            chunks=pool.apply(lambda c: c, chunks),
            only=pool.apply_only(lambda: sp.worker_index(), 2),
            squares=pool.map(lambda x: x * x, iter(range(9))),
            draws=pool.apply(lambda: float(sp.worker_rng().random())),
            draws_again=MPIPool.spawn(3, seed=5).apply(lambda: float(sp.worker_rng().random())),
        )
        try:
            pool.apply(lambda: 1 / sp.worker_index())
        except ZeroDivisionError as error:
            report(error="ZeroDivisionError", still=pool.apply(lambda: 1))
        del rows, pushed, chunks
        pool.close()
        report(closed=pool.closed, text=repr(pool))
        """,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert out["size"] == 3
    assert out["pids"][0] == out["parent"]
    assert out["pids"][1:] == out["spawned"]
    assert len(set(out["pids"])) == 3
    U_sums = [sum(range(0, 6)), sum(range(6, 10)), sum(range(10, 14))]
    assert out["sums"] == [float(s) for s in U_sums]
    assert out["pushed"] == [3, 3, 3]
    assert out["chunks"] == [[0, 1], [2, 3], [4]]
    assert out["only"] == 2
    assert out["squares"] == [x * x for x in range(9)]
    assert out["draws"] == out["draws_again"]
    assert out["error"] == "ZeroDivisionError" and out["still"] == [1, 1, 1]
    assert out["closed"] is True and out["text"] == "MPIPool.spawn(3, closed)"
    assert wait_gone(out["spawned"] + out["helpers"]) == []


def test_close_from_inside_a_call_is_refused_and_the_workers_stay(tmp_path):
    r = run_script(
        tmp_path,
        """
        from scatterpool import ReentrantCallError
        from scatterpool.mpi import MPIPool

        with MPIPool.spawn(2) as pool:
            try:
                pool.apply_only(pool.close, 0)
            except ReentrantCallError:
                report(refused=True, closed=pool.closed, after=pool.apply(os.getpid)[1] == pool.pids[0])
        """,
    )
    assert r.returncode == 0, r.explain()
    assert reports(r.stdout) == {"refused": True, "closed": False, "after": True}


def test_one_worker_spawns_nothing(tmp_path):
    r = run_script(
        tmp_path,
        """
        from scatterpool.mpi import MPIPool

        with MPIPool.spawn(1) as pool:
            report(size=len(pool), pids=pool.apply(os.getpid), parent=os.getpid(), spawned=pool.pids)
        """,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert out == {"size": 1, "pids": [out["parent"]], "parent": out["parent"], "spawned": []}


# --------------------------------------------------------------------------- #
# no process left behind                                                       #
# --------------------------------------------------------------------------- #
def test_workers_stop_at_close(tmp_path):
    r = run_script(
        tmp_path,
        """
        from scatterpool.mpi import MPIPool

        pool = MPIPool.spawn(3)
        spawned = pool.pids
        pool.close()
        report(spawned=spawned)
        # the parent lives on: the workers must go without its exit
        report(left_while_parent_runs=wait_gone(spawned, 60))
        """,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert len(out["spawned"]) == 2
    assert out["left_while_parent_runs"] == []


def test_workers_stop_at_exit_without_close(tmp_path):
    r = run_script(
        tmp_path,
        """
        from scatterpool.mpi import MPIPool

        pool = MPIPool.spawn(3)
        pool.apply(len, [1])
        report(spawned=pool.pids, helpers=descendants(os.getpid()))
        """,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert len(out["spawned"]) == 2
    assert wait_gone(out["spawned"] + out["helpers"]) == []


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The next line of ``proc``'s stdout; fails the test after ``timeout`` seconds."""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            proc.kill()
            pytest.fail(f"no output within {timeout} s; stderr:\n{proc.stderr.read()}")
    return proc.stdout.readline()


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_workers_stop_when_the_parent_is_killed(tmp_path, busy):
    path = tmp_path / "script.py"
    path.write_text(
        PRELUDE
        + textwrap.dedent(
            f"""
            import threading
            from scatterpool.mpi import MPIPool

            pool = MPIPool.spawn(3)
            report(spawned=pool.pids, helpers=descendants(os.getpid()))
            if {busy}:
                # the workers run a call that would not end by itself
                threading.Thread(target=pool.apply, args=(lambda: threading.Event().wait(),), daemon=True).start()
            sys.stdin.read()  # until the test kills this process
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        out = json.loads(read_line(proc, 120))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        left = wait_gone(out["spawned"] + out["helpers"])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    assert len(out["spawned"]) == 2
    assert left == []


# --------------------------------------------------------------------------- #
# where it runs                                                                #
# --------------------------------------------------------------------------- #
def spawn_with_path_lacking_mpiexec(tmp_path, prelude: str) -> dict:
    r = run_script(
        tmp_path,
        prelude
        + """
        import shutil
        from scatterpool.mpi import MPIPool

        report(mpiexec_on_path=shutil.which("mpiexec"), path_before=os.environ["PATH"])
        with MPIPool.spawn(2) as pool:
            report(pids=len(set(pool.apply(os.getpid))))
        report(path_after=os.environ["PATH"])
        """,
        env=environment(PATH=path_without_mpiexec()),
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert out["mpiexec_on_path"] is None
    assert out["pids"] == 2
    return out


def test_spawn_finds_mpiexec_when_path_lacks_it(tmp_path):
    spawn_with_path_lacking_mpiexec(tmp_path, "")


def test_spawn_finds_mpiexec_when_mpi4py_was_imported_first(tmp_path):
    # MPI initialised by the user, before scatterpool could mind PATH; PATH is changed for the spawn only
    out = spawn_with_path_lacking_mpiexec(tmp_path, "\n        from mpi4py import MPI\n")
    assert out["path_after"] == out["path_before"]


def test_kernel_like_python_c(tmp_path):
    """As a notebook kernel runs code: ``python -c``, no tty, no ``__main__`` file, functions of ``__main__``."""
    code = textwrap.dedent(
        """
        import os
        from scatterpool.mpi import MPIPool

        def objective(x):
            return sum(i * x for i in range(1000))

        pool = MPIPool.spawn(2)
        print(pool.map(objective, range(6)), len(set(pool.apply(os.getpid))), flush=True)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment(),
        cwd=tmp_path,
        start_new_session=True,  # no controlling terminal, as a kernel started by Jupyter
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == f"{[sum(i * x for i in range(1000)) for x in range(6)]} 2"


def test_spawn_inside_an_mpiexec_launch_is_an_error(tmp_path):
    path = tmp_path / "launched.py"
    path.write_text(
        textwrap.dedent(
            """
            from scatterpool.mpi import MPIPool

            try:
                MPIPool.spawn(2)
            except RuntimeError as error:
                print("refused:", error, flush=True)
            """
        )
    )
    r = launch(2, [str(path)], timeout=120)
    assert r.returncode == 0, r.explain()
    assert "refused: MPIPool.spawn is for programs started without mpiexec; this one runs on 2 MPI ranks" in r.stdout
    assert "use MPIPool()" in r.stdout


def test_spawn_under_mpiexec_of_one_rank(tmp_path):
    path = tmp_path / "launched.py"
    path.write_text(
        textwrap.dedent(
            """
            import os
            from scatterpool.mpi import MPIPool

            with MPIPool.spawn(2) as pool:
                print("workers:", len(set(pool.apply(os.getpid))), flush=True)
            """
        )
    )
    r = launch(1, [str(path)], timeout=120)
    assert r.returncode == 0, r.explain()
    assert "workers: 2" in r.stdout


# --------------------------------------------------------------------------- #
# failures                                                                     #
# --------------------------------------------------------------------------- #
def test_interrupt_leaves_the_pool_usable(tmp_path):
    r = run_script(
        tmp_path,
        """
        import signal
        import scatterpool as sp
        from scatterpool.mpi import MPIPool

        def interrupted_on_worker_0():
            if sp.worker_index() == 0:
                signal.raise_signal(signal.SIGINT)  # Ctrl-C while worker 1 runs its share
            return sum(range(10**6))

        with MPIPool.spawn(2) as pool:
            try:
                pool.apply(interrupted_on_worker_0)
            except KeyboardInterrupt:
                report(interrupted=True)
            report(after=pool.apply(sp.worker_index), spawned=pool.pids)
        """,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert out["interrupted"] is True
    assert out["after"] == [0, 1]
    assert wait_gone(out["spawned"]) == []


def test_missing_mpi4py_is_a_clear_error(tmp_path):
    r = run_script(
        tmp_path,
        """
        class NoMPI4Py:
            def find_spec(self, name, path=None, target=None):
                if name == "mpi4py" or name.startswith("mpi4py."):
                    raise ImportError(f"No module named {name!r}")

        sys.meta_path.insert(0, NoMPI4Py())
        from scatterpool.mpi import MPIPool

        try:
            MPIPool.spawn(2)
        except ImportError as error:
            report(error=str(error))
        """,
    )
    assert r.returncode == 0, r.explain()
    assert "pip install 'scatterpool[mpi]'" in reports(r.stdout)["error"]


def test_missing_mpiexec_is_a_clear_error(tmp_path):
    # an environment whose Python has no mpiexec beside it and none on PATH
    env = environment(PATH=path_without_mpiexec())
    r = run_script(
        tmp_path,
        """
        from scatterpool.mpi import MPIPool, _spawn

        _spawn.mpiexec_folder = lambda: None
        try:
            MPIPool.spawn(2)
        except RuntimeError as error:
            report(error=str(error), helpers=descendants(os.getpid()))
        """,
        env=env,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert "MPIPool.spawn: the workers are started by MPICH's mpiexec, and there is none in" in out["error"]
    assert out["helpers"] == []


def test_worker_that_cannot_import_the_function(tmp_path):
    """A function of a module the workers cannot import: its error in the parent, and the pool goes on."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "only_here.py").write_text("def triple(x):\n    return 3 * x\n")
    r = run_script(
        tmp_path,
        """
        import importlib.util
        from scatterpool.mpi import MPIPool

        spec = importlib.util.spec_from_file_location("only_here", "elsewhere/only_here.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["only_here"] = module
        spec.loader.exec_module(module)
        with MPIPool.spawn(2) as pool:
            try:
                pool.map(module.triple, range(4))
            except ModuleNotFoundError as error:
                report(error=str(error), notes=getattr(error, "__notes__", []))
            report(after=pool.map(lambda x: 3 * x, range(4)))
        """,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert out["error"] == "No module named 'only_here'"
    assert any("worker 1" in note for note in out["notes"]), out["notes"]
    assert out["after"] == [0, 3, 6, 9]


CRASHES = {
    "abort": "os.abort()",
    "segfault": "import ctypes; ctypes.string_at(0)",
}


@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_a_crashing_worker_leaves_the_parent_alive(tmp_path, crash):
    """A worker process that dies: WorkerLostError naming it, this process lives on, nothing left, a new pool works."""
    r = run_script(
        tmp_path,
        f"""
        import scatterpool as sp
        from scatterpool.mpi import MPIPool, WorkerLostError

        def crash_on_worker_1():
            if sp.worker_index() == 1:
                {CRASHES[crash]}
            return sp.worker_index()

        pool = MPIPool.spawn(3)
        report(spawned=pool.pids, helpers=descendants(os.getpid()))
        try:
            pool.apply(crash_on_worker_1)
        except WorkerLostError as error:
            report(error=str(error))
        try:
            pool.apply(sp.worker_index)
        except WorkerLostError as error:
            report(later=str(error))
        pool.close()
        report(left=wait_gone(pool.pids, 60), helpers_left=wait_gone(descendants(os.getpid()), 60))
        with MPIPool.spawn(2) as again:
            report(again=again.apply(sp.worker_index))
        report(alive=True)
        """,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert len(out["spawned"]) == 2
    assert out["error"].startswith(
        f"worker 1 (MPI rank 1) was lost during apply: its process (pid {out['spawned'][0]} on "
    ), out["error"]
    assert "This pool cannot be used any more" in out["error"]
    assert out["later"].startswith("the MPI ranks cannot work together any more: worker 1 (MPI rank 1) was lost")
    assert out["left"] == [] and out["helpers_left"] == []
    assert out["again"] == [0, 1]
    assert out["alive"] is True
    assert wait_gone(out["spawned"] + out["helpers"]) == []


HANGS = {
    # the hang releases the GIL: the worker's watch of its control connection ends it
    "waits": "threading.Event().wait()",
    # the hang holds the GIL: nothing runs in the worker; the parent kills it
    "holds-the-gil": "ctypes.PyDLL(None).pause()",
}


@pytest.mark.parametrize("hang", sorted(HANGS))
def test_a_worker_that_hangs_at_start_times_out(tmp_path, hang):
    """A module the workers import at start never finishes: TimeoutError within the pool's timeout, no process left."""
    (tmp_path / "shadow" / "numpy").mkdir(parents=True)
    (tmp_path / "started").mkdir()
    (tmp_path / "shadow" / "numpy" / "__init__.py").write_text(
        textwrap.dedent(
            f"""
            import ctypes, os, threading
            open(os.path.join({str(tmp_path / "started")!r}, str(os.getpid())), "w").close()
            {HANGS[hang]}
            """
        )
    )
    r = run_script(
        tmp_path,
        """
        import numpy  # this process has it already
        from scatterpool.mpi import MPIPool

        sys.path.insert(0, os.path.abspath("shadow"))  # what the workers will import numpy from
        try:
            MPIPool.spawn(3, timeout=15)
        except TimeoutError as error:
            started = [int(name) for name in os.listdir("started")]
            report(error=str(error), started=started, helpers=descendants(os.getpid()))
            report(left=wait_gone(started, 60))
        sys.path.pop(0)
        with MPIPool.spawn(2) as pool:
            report(after=len(set(pool.apply(os.getpid))))
        """,
        timeout=180,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert out["error"] == (
        "MPIPool.spawn: 2 of 2 worker processes did not start within 15 s "
        "(MPIPool.spawn(timeout=...) or SCATTERPOOL_MPI_TIMEOUT); they are stopped"
    )
    assert len(out["started"]) == 2  # both workers were stuck in the import
    assert out["helpers"] == []
    assert out["left"] == []
    assert out["after"] == 2


def test_worker_that_cannot_start(tmp_path):
    """The workers cannot import scatterpool (their environment differs): the worker's traceback, no hang."""
    (tmp_path / "shadow" / "numpy").mkdir(parents=True)
    (tmp_path / "shadow" / "numpy" / "__init__.py").write_text("raise ImportError('numpy is broken on the workers')\n")
    r = run_script(
        tmp_path,
        """
        import numpy  # this process has it already
        from scatterpool.mpi import MPIPool

        sys.path.insert(0, os.path.abspath("shadow"))  # what the workers will import numpy from
        try:
            MPIPool.spawn(2)
        except RuntimeError as error:
            report(error=str(error), helpers=descendants(os.getpid()))
        sys.path.pop(0)
        with MPIPool.spawn(2) as pool:
            report(after=len(set(pool.apply(os.getpid))))
        """,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert out["error"].startswith("MPIPool.spawn: worker 1 could not start; its error:")
    assert "ImportError: numpy is broken on the workers" in out["error"]
    assert out["helpers"] == []  # the failed start's mpiexec and workers are gone when the error is raised
    assert out["after"] == 2


def test_bad_sizes(tmp_path):
    r = run_script(
        tmp_path,
        """
        from scatterpool.mpi import MPIPool

        for n in (0, -1, 2.0, True, None):
            try:
                MPIPool.spawn(n)
            except (TypeError, ValueError) as error:
                report(**{repr(n): f"{type(error).__name__}: {error}"})
        """,
    )
    assert r.returncode == 0, r.explain()
    assert reports(r.stdout) == {
        "0": "ValueError: MPIPool.spawn needs at least 1 worker, got 0",
        "-1": "ValueError: MPIPool.spawn needs at least 1 worker, got -1",
        "2.0": "TypeError: MPIPool.spawn: num_workers must be an int, got float",
        "True": "TypeError: MPIPool.spawn: num_workers must be an int, got bool",
        "None": "TypeError: MPIPool.spawn: num_workers must be an int, got NoneType",
    }


def test_real_notebook(tmp_path):
    """A Jupyter notebook run by nbclient on an IPython kernel: the pool, a function of the notebook, no orphans."""
    pytest.importorskip("nbclient", reason="nbclient and ipykernel (in the test extra) run the notebook")
    pytest.importorskip("ipykernel", reason="nbclient and ipykernel (in the test extra) run the notebook")
    r = run_script(
        tmp_path,
        """
        import nbclient, nbformat

        cells = [
            "import os\\nfrom scatterpool.mpi import MPIPool\\npool = MPIPool.spawn(2)",
            "def objective(x):\\n    return sum(i * x for i in range(1000))",
            "print(pool.map(objective, range(6)), len(set(pool.apply(os.getpid))), pool.pids)",
        ]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
        text = nb.cells[2].outputs[0]["text"]
        report(text=text)
        """,
        timeout=300,
        env=environment(PATH=path_without_mpiexec()),
    )
    assert r.returncode == 0, r.explain()
    text = reports(r.stdout)["text"]
    expected = [sum(i * x for i in range(1000)) for x in range(6)]
    assert text.startswith(f"{expected} 2 ["), text
    spawned = json.loads(text[text.rindex("[") :])
    assert len(spawned) == 1
    assert wait_gone(spawned) == []


# --------------------------------------------------------------------------- #
# new_pool                                                                     #
# --------------------------------------------------------------------------- #
def test_new_pool_spawns_with_scatterpool_pool_mpi_spawn(tmp_path):
    r = run_script(
        tmp_path,
        """
        import scatterpool as sp
        from scatterpool.mpi import MPIPool

        with sp.new_pool(seed=3) as pool:
            report(kind=type(pool).__name__, mpi=isinstance(pool, MPIPool), size=len(pool),
                   pids=len(set(pool.apply(os.getpid))), spawned=pool.pids)
        """,
        env=environment(SCATTERPOOL_POOL="mpi-spawn:3"),
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert (out["kind"], out["mpi"], out["size"], out["pids"]) == ("SpawnedMPIPool", True, 3, 3)
    assert wait_gone(out["spawned"]) == []


@pytest.mark.parametrize(
    ("value", "choice"), [("mpi-spawn:2", ("mpi-spawn", 2)), (" MPI-Spawn:16 ", ("mpi-spawn", 16))]
)
def test_choose_pool_reads_mpi_spawn(value, choice):
    from scatterpool._default import choose_pool

    assert tuple(choose_pool({"SCATTERPOOL_POOL": value})) == choice


@pytest.mark.parametrize("value", ["mpi-spawn", "mpi-spawn:", "mpi-spawn:0", "mpi-spawn:-2", "mpi-spawn:x"])
def test_choose_pool_refuses_a_bad_mpi_spawn(value):
    from scatterpool._default import choose_pool

    with pytest.raises(ValueError, match=r"accepted values: .*mpi-spawn:N"):
        choose_pool({"SCATTERPOOL_POOL": value})


def test_pymor_new_parallel_pool_spawns_with_scatterpool_pool_mpi_spawn(tmp_path):
    pytest.importorskip("pymor", reason="pyMOR (the pymor extra) is needed for scatterpool.pymor")
    r = run_script(
        tmp_path,
        """
        import numpy as np
        from pymor.operators.numpy import NumpyMatrixOperator
        from pymor.parallel.interface import RemoteObject, WorkerPool
        import scatterpool.pymor
        from scatterpool.mpi import MPIPool

        with scatterpool.pymor.new_parallel_pool(seed=3) as pool:
            op = pool.push(NumpyMatrixOperator(np.diag([1.0, 2.0, 3.0])))
            U = pool.scatter_list([1.0, 2.0, 3.0])
            report(
                kind=type(pool).__name__,
                pymor=isinstance(pool, WorkerPool),
                mpi=isinstance(pool, MPIPool),
                size=len(pool),
                pids=len(set(pool.apply(os.getpid))),
                handles=isinstance(op, RemoteObject) and isinstance(U, RemoteObject),
                norms=pool.apply(lambda op: float(op.matrix.sum()), op, task_label="sums"),
                mapped=pool.map(lambda x, op: float(op.matrix[0, 0]) * x, [1.0, 2.0, 3.0], op=op, task_label="map"),
                spawned=pool.pids,
            )
        """,
        env=environment(SCATTERPOOL_POOL="mpi-spawn:2"),
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert (out["pymor"], out["mpi"], out["size"], out["pids"], out["handles"]) == (True, True, 2, 2, True)
    assert out["norms"] == [6.0, 6.0]
    assert out["mapped"] == [1.0, 2.0, 3.0]
    assert wait_gone(out["spawned"]) == []


def test_another_mpi_library_is_a_clear_error(tmp_path):
    r = run_script(
        tmp_path,
        """
        from mpi4py import MPI
        from scatterpool.mpi import MPIPool

        MPI.Get_library_version = lambda: "Open MPI v5.0.5, package: Open MPI\\n"  # as if mpi4py were built on it
        try:
            MPIPool.spawn(2)
        except RuntimeError as error:
            report(error=str(error), helpers=descendants(os.getpid()))
        """,
    )
    assert r.returncode == 0, r.explain()
    out = reports(r.stdout)
    assert out["error"].startswith("MPIPool.spawn is made for MPICH (pip install 'scatterpool[mpi]' brings the mpich")
    assert "this mpi4py uses Open MPI v5.0.5, package: Open MPI: launch the program with its mpiexec" in out["error"]
    assert out["helpers"] == []
