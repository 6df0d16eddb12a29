"""The stubs of the compiled core match it (mypy's stubtest), so they cannot drift."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("mypy", reason="mypy is in the test extra: pip install '.[test]'")

ALLOWLIST = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, "python", "stubtest-allowlist.txt"))


def test_core_stubs_match_the_extension(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "scatterpool._core", "--allowlist", ALLOWLIST],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # the installed package, not the source tree
    )
    assert result.returncode == 0, result.stdout + result.stderr
