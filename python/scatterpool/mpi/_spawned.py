"""The life of a worker process of ``MPIPool.spawn``, run as a script under the pool's own ``mpiexec``.

``python .../scatterpool/mpi/_spawned.py HEX``: ``HEX`` is the hex of a JSON
object from the parent (hex: the argument travels through MPICH's process
manager, whose wire format has no room for spaces or quotes):

* ``"mpi4py"``: the folders to import mpi4py from (the parent's);
* ``"path"``: the parent's ``sys.path``, to import scatterpool from;
* ``"control"``: the parent's control socket (a Unix socket);
* ``"port"``: the MPI port the parent accepts the workers on.

First the worker connects to the control socket and sends its pid: from
then on the parent can stop it, even if it hangs while starting. A thread
reads that socket until it closes; when it does (the parent died, or gave
up on the start) the process ends at once. Then the worker imports mpi4py
(which initialises MPI) and scatterpool, and reports ``ready``, or
``failed`` with the traceback (and exits; the parent raises the error).
Ready workers connect to the parent's port together and serve its pool.

Messages on the control socket are JSON objects, one per line.
"""

import json
import os
import socket
import sys
import threading

TAG_BYE = 23  # the worker -> the parent: left the worker loop, about to disconnect


def _report(control: socket.socket, **message: object) -> None:
    control.sendall(json.dumps(message).encode() + b"\n")


def _watch_parent(control: socket.socket) -> None:
    """Ends the process when the parent closes the control socket or dies (it sends nothing on it)."""
    try:
        while control.recv(4096):
            pass
    except OSError:
        pass
    os._exit(0)


def _main() -> int:
    config = json.loads(bytes.fromhex(sys.argv[1]))
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.connect(config["control"])
    _report(control, pid=os.getpid())
    threading.Thread(target=_watch_parent, args=(control,), name="scatterpool-parent-watch", daemon=True).start()
    rank = int(os.environ.get("PMI_RANK", "-1")) + 1  # until MPI says
    try:
        sys.path[:0] = config["mpi4py"]
        from mpi4py import MPI

        rank = MPI.COMM_WORLD.Get_rank() + 1
        sys.path[:] = config["path"]
        sys.argv = sys.argv[:1]
        from scatterpool.mpi import _runtime
        from scatterpool.mpi._worker import serve
    except BaseException:
        import traceback

        _report(control, rank=rank, failed=traceback.format_exc())
        # status 0: the process manager then leaves the other workers alone; the parent ends them
        os._exit(0)
    _report(control, rank=rank, ready=True)
    intercomm = MPI.COMM_WORLD.Connect(config["port"])
    comm = intercomm.Merge(high=True)
    rt = _runtime.start(launched=True, comm=comm)
    status = serve(rt)
    if status == 0:  # the parent said quit: it waits for this word, then both disconnect
        comm.send(None, 0, TAG_BYE)
        comm.Disconnect()
        intercomm.Disconnect()
    return status


if __name__ == "__main__":
    # run as a script: its own folder (scatterpool/mpi) is no place to import from
    del sys.path[0]
    sys.exit(_main())
