"""The launcher: ``mpiexec -n K python -m scatterpool.mpi script.py [args]``.

Rank 0 runs the script (or ``-m module``) as ``__main__`` with
``sys.argv = [script, *args]``; the other ranks serve its pools. When the
script ends, rank 0 closes its open pools and tells the other ranks to stop;
every rank then exits, rank 0 with the script's status (1 after an uncaught
exception, whose traceback is printed), the others with 0. If a rank was
lost, rank 0 ends the job with ``MPI_Abort`` (MPI cannot finish without it).
"""

from __future__ import annotations

import os
import runpy
import sys
import time
import traceback

USAGE = """usage: mpiexec -n K python -m scatterpool.mpi script.py [args ...]
       mpiexec -n K python -m scatterpool.mpi -m module [args ...]

Runs the script on MPI rank 0; ranks 1..K-1 serve its scatterpool.mpi.MPIPool."""


def _parse(argv: list[str]) -> tuple[str, str, list[str]] | None:
    if not argv or argv[0] in ("-h", "--help"):
        return None
    if argv[0] == "-m":
        if len(argv) < 2:
            return None
        return "module", argv[1], argv[2:]
    return "path", argv[0], argv[1:]


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def main(argv: list[str] | None = None) -> int:
    parsed = _parse(sys.argv[1:] if argv is None else argv)
    if parsed is None:
        sys.stderr.write(USAGE + "\n")
        return 2
    kind, target, args = parsed
    from . import _runtime

    rt = _runtime.start(launched=True)
    if kind == "path":
        # as `python script.py` would: the script's folder first on sys.path, on every rank
        sys.path[0] = os.path.dirname(os.path.abspath(target))
    else:
        sys.path[0] = os.getcwd()
    if rt.rank != 0:
        from ._worker import serve

        return serve(rt)

    status = 0
    try:
        if kind == "path":
            sys.argv = [target, *args]
            runpy.run_path(target, run_name="__main__")
        else:
            sys.argv = [target, *args]
            runpy.run_module(target, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        status = _exit_status(stop.code)
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        from ._client import shutdown

        try:
            shutdown()
        except BaseException:
            traceback.print_exc()
    if rt.broken is not None:
        sys.stderr.write(f"scatterpool.mpi: {rt.broken}; ending the MPI job (MPI_Abort)\n")
        sys.stderr.flush()
        sys.stdout.flush()
        # mpiexec forwards the ranks' output through its proxies; an abort
        # right away can drop what is still on its way
        time.sleep(0.5)
        rt.MPI.COMM_WORLD.Abort(status or 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
