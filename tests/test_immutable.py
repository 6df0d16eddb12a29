"""Immutable uids: unique across processes and runs, kept by pickling."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import pytest

import scatterpool as sp


class Params(sp.Immutable):
    """An immutable a user defines; importable by a subprocess as test_immutable.Params."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "name", name)


def test_pickled_immutable_keeps_its_uid():
    p = Params("kept")
    loaded = pickle.loads(pickle.dumps(p))
    assert loaded.uid == p.uid and loaded.name == "kept"


def test_immutable_from_another_process_delivers_itself(pool, tmp_path):
    mine = Params("mine")
    path = tmp_path / "saved.pickle"
    # The subprocess makes Immutables until one has at least mine's uid (at most 100000 of them),
    # so that uids that were only a per-process counter would collide with mine.
    script = textwrap.dedent(
        f"""
        import pickle, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_immutable import Params
        for _ in range(min({mine.uid}, 100_000)):
            saved = Params("saved")
            if saved.uid >= {mine.uid}:
                break
        with open({str(path)!r}, "wb") as f:
            pickle.dump(saved, f)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    with open(path, "rb") as f:
        saved = pickle.load(f)
    with pool.push(mine) as r_mine, pool.push(saved) as r_saved:
        assert pool.apply(lambda p: p.name, p=r_saved) == ["saved"] * len(pool)
        assert pool.apply(lambda p: p.name, p=r_mine) == ["mine"] * len(pool)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_makes_uids_of_its_own():
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the uid of its first Immutable, then leave at once
        os.close(read_end)
        os.write(write_end, str(Params("child").uid).encode())
        os._exit(0)
    os.close(write_end)
    mine = Params("parent")
    with os.fdopen(read_end, "rb") as f:
        child_uid = int(f.read())
    os.waitpid(pid, 0)
    assert child_uid != mine.uid
