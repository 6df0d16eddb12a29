"""The life of a worker process started by ``MPIPool.spawn``, run as a script by MPI's spawn.

``python .../scatterpool/mpi/_spawned.py HEX``: ``HEX`` is the hex of a JSON
object from the parent (hex: the argument travels through MPICH's process
manager, whose wire format has no room for spaces or quotes):

* ``"mpi4py"``: the folders to import mpi4py from (the parent's);
* ``"path"``: the parent's ``sys.path``, to import scatterpool from.

The order of things is what keeps the parent safe. MPICH's process manager
ends the whole job, the parent included, when a spawned process exits with
a non-zero status or before ``MPI_Init``; so this script initialises MPI
before anything that can fail (only mpi4py is imported first, from where the
parent has it), joins the parent's communicator, and then reports: either
``("ok", pid)`` and it serves the parent's pools, or ``("failed", traceback)``
and it disconnects and exits with status 0; the parent raises the error.
"""

import os
import sys

TAG_STARTED = 21  # the worker -> the parent: ("ok", pid) or ("failed", traceback text)
TAG_GO = 22  # the parent -> a worker that started: True (serve) or False (another one failed: stop)
TAG_BYE = 23  # the worker -> the parent: left the worker loop, about to disconnect


def _main() -> int:
    import json

    config = json.loads(bytes.fromhex(sys.argv[1]))
    sys.path[:0] = config["mpi4py"]
    from mpi4py import MPI

    parent = MPI.Comm.Get_parent()
    comm = parent.Merge(high=True)
    try:
        sys.path[:] = config["path"]
        sys.argv = sys.argv[:1]
        from scatterpool.mpi import _runtime
        from scatterpool.mpi._worker import serve
    except BaseException:
        import traceback

        comm.send(("failed", traceback.format_exc()), 0, TAG_STARTED)
        comm.Disconnect()
        parent.Disconnect()
        return 0
    comm.send(("ok", os.getpid()), 0, TAG_STARTED)
    if not comm.recv(source=0, tag=TAG_GO):
        comm.Disconnect()
        parent.Disconnect()
        return 0
    rt = _runtime.start(launched=True, comm=comm)
    status = serve(rt)
    if status == 0:  # the parent said quit: it waits for this word, then both disconnect
        comm.send(None, 0, TAG_BYE)
        comm.Disconnect()
        parent.Disconnect()
    return status


if __name__ == "__main__":
    # run as a script: its own folder (scatterpool/mpi) is no place to import from
    del sys.path[0]
    sys.exit(_main())
