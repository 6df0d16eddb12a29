"""Launching MPI runs from the tests: mpiexec of this Python's environment, with a timeout.

The MPI tests skip (with this message) only when mpi4py is not installed.
When it is, a missing ``mpiexec`` is an error, not a skip: ``pip install
'scatterpool[mpi]'`` brings one (the mpich wheel) into the environment's
``bin``. That folder goes first on ``PATH`` and the ranks run
``sys.executable``, so that neither another MPI nor another Python is picked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
ROOT = HERE.parent.parent

MPI4PY_MISSING = (
    "mpi4py is not installed: pip install 'scatterpool[mpi]' (mpi4py, mpich, cloudpickle) to run the MPI tests"
)


def require_mpi() -> None:
    pytest.importorskip("mpi4py", reason=MPI4PY_MISSING)


def bindir() -> str:
    return os.path.dirname(sys.executable)


def mpiexec() -> str:
    candidate = os.path.join(bindir(), "mpiexec")
    if os.path.exists(candidate):
        return candidate
    found = shutil.which("mpiexec")
    if found is None:
        pytest.fail(
            f"mpi4py is installed but no mpiexec was found in {bindir()} or on PATH: "
            f"pip install mpich (part of scatterpool[mpi])"
        )
    return found


def environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = bindir() + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    env.update(extra)
    return env


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def explain(self) -> str:
        return (
            f"$ {' '.join(self.args)}\nexit status {self.returncode} after {self.seconds:.1f} s\n"
            f"--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-6000:]}"
        )


def run(args: list[str], timeout: float, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Runs a command in its own session; on timeout the whole session is killed and the test fails."""
    start = time.monotonic()
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or environment(),
        cwd=str(cwd or ROOT),
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):  # the whole session may have ended meanwhile
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        r = Run(args, -9, out, err, time.monotonic() - start)
        pytest.fail(f"timed out after {timeout} s (a hang):\n{r.explain()}")
    return Run(args, proc.returncode, out, err, time.monotonic() - start)


def launch(n: int, target: list[str], timeout: float = 120, mpiexec_flags: list[str] | None = None, **env: str) -> Run:
    """``mpiexec -n n python -m scatterpool.mpi *target``."""
    args = [mpiexec(), *(mpiexec_flags or []), "-n", str(n), sys.executable, "-m", "scatterpool.mpi", *target]
    return run(args, timeout, environment(**env))


def script(name: str) -> str:
    return str(SCRIPTS / name)
