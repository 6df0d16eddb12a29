"""The Cython face: a module that cimports scatterpool, built against the installed package.

``tests/cython/row_norms.pyx`` (the README's Cython example) is cythonized and
compiled at test time by ``tests/cython/CMakeLists.txt``, which finds the
installed package the way a downstream scikit-build-core build does, through
the ``cmake.root`` entry point; then it runs. Skipped only when Cython is not
installed (it is in the test extra).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

import scatterpool as sp

pytest.importorskip("Cython")

SOURCE = Path(__file__).parent / "cython"


def _tool(name: str) -> str:
    """cmake or ninja: from its PyPI package if installed, else from PATH."""
    try:
        module = importlib.import_module(name)
        folder = module.CMAKE_BIN_DIR if name == "cmake" else module.BIN_DIR
        path = Path(folder) / name
        if path.exists():
            return str(path)
    except (ImportError, AttributeError):
        pass
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is needed to build the Cython test module (it is in the test extra)")
    return found


def _run(args: list[str], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _cmake_root() -> Path:
    """The folder the cmake.root entry point names, as scikit-build-core computes it."""
    (ep,) = [ep for ep in entry_points(group="cmake.root") if ep.name == "scatterpool"]
    return Path(str(files(ep.load())))


@pytest.fixture(scope="module")
def row_norms(tmp_path_factory):
    build = tmp_path_factory.mktemp("cython-build")
    cmake = _tool("cmake")
    configure = [
        cmake, "-S", str(SOURCE), "-B", str(build),
        f"-DPython_EXECUTABLE={sys.executable}",
        f"-Dscatterpool_ROOT={_cmake_root()}",
        "-DCMAKE_BUILD_TYPE=Release",
    ]  # fmt: skip
    if shutil.which("ninja") or importlib.util.find_spec("ninja"):
        configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={_tool('ninja')}"]
    _run(configure, build)
    cache = (build / "CMakeCache.txt").read_text()
    assert f"scatterpool_DIR:PATH={_cmake_root()}" in cache  # found through the entry point
    _run([cmake, "--build", str(build), "-j", "2"], build)
    (path,) = [p for p in build.iterdir() if p.name.startswith("row_norms.") and p.suffix in (".so", ".pyd")]
    spec = importlib.util.spec_from_file_location("row_norms", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_package_ships_the_cpp_and_cython_faces():
    include = Path(sp.get_include())
    assert (include / "scatterpool" / "scatterpool.hpp").is_file()
    assert (include / "scatterpool" / "c_task.hpp").is_file()
    cmake_dir = Path(sp.get_cmake_dir())
    assert (cmake_dir / "scatterpoolConfig.cmake").is_file()
    assert (cmake_dir / "scatterpoolConfigVersion.cmake").is_file()
    assert list((cmake_dir.parent.parent).glob("*scatterpool_core*"))  # the static library
    assert (Path(sp.__file__).parent / "__init__.pxd").is_file()


def test_cmake_root_entry_point_does_not_import_scatterpool():
    # scikit-build-core loads the entry point while it builds any package,
    # scatterpool included: that must not load scatterpool's compiled core.
    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        "from importlib.resources import files\n"
        "(ep,) = [ep for ep in entry_points(group='cmake.root') if ep.name == 'scatterpool']\n"
        "print(files(ep.load()))\n"
        "assert 'scatterpool' not in sys.modules, sorted(sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert result.returncode == 0, result.stderr
    assert (Path(result.stdout.strip()) / "scatterpoolConfig.cmake").is_file()


@pytest.mark.parametrize("num_workers", [1, 2, 3, 7])
@pytest.mark.parametrize("shape", [(1000, 13), (5, 4), (1, 1), (0, 3)])
def test_row_norms_on_a_thread_pool(row_norms, num_workers, shape):
    A = np.random.default_rng(1).standard_normal(shape)
    np.testing.assert_allclose(row_norms.row_norms(A, num_workers), np.linalg.norm(A, axis=1), rtol=1e-13)


def test_row_norms_errors(row_norms):
    A = np.ones((4, 3))
    with pytest.raises(ValueError, match="at least 1 worker"):
        row_norms.row_norms(A, 0)
    with pytest.raises(ValueError):  # not C-contiguous
        row_norms.row_norms(np.asfortranarray(np.ones((4, 3))), 2)


def test_even_split_through_cython(row_norms):
    for n in (0, 1, 5, 10, 1001):
        for k in (1, 2, 4, 7):
            assert row_norms.split(n, k) == list(sp.even_split(n, k))
    with pytest.raises(ValueError, match="at least 1"):
        row_norms.split(3, 0)


def test_c_task_runs_in_worker_context(row_norms):
    assert row_norms.workers_seen(1) == [1]
    assert row_norms.workers_seen(5) == [1, 2, 3, 4, 5]


def test_readme_shows_the_tested_examples():
    root = Path(__file__).parent.parent
    readme = (root / "README.md").read_text()
    example = (root / "cpp" / "examples" / "scatter_norms.cpp").read_text()
    assert f"```cpp\n{example}```" in readme, "README's C++ example is not cpp/examples/scatter_norms.cpp"
    pyx = (SOURCE / "row_norms.pyx").read_text().split("# The README shows this file up to here")[0].rstrip("\n")
    assert f"```cython\n{pyx}\n```" in readme, "README's Cython example is not the start of tests/cython/row_norms.pyx"
