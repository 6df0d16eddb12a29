"""The package's metadata says one thing everywhere: one version, one license, one oldest Python."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib import metadata

import scatterpool

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def _read(*parts: str) -> str:
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def test_version_of_the_module_is_the_version_of_the_installed_distribution():
    assert scatterpool.__version__ == metadata.version("scatterpool")


def test_license_is_declared_as_an_spdx_expression_and_shipped():
    meta = metadata.metadata("scatterpool")
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert _read("LICENSE").startswith("BSD 3-Clause License\n")


def _oldest_python(specifier: str) -> tuple[int, int]:
    match = re.fullmatch(r">=\s*(\d+)\.(\d+)", specifier.strip())
    assert match is not None, f"Requires-Python is not of the form >=X.Y: {specifier!r}"
    return int(match.group(1)), int(match.group(2))


def test_requires_python_is_the_python_that_cmake_builds_the_extension_for():
    claimed = _oldest_python(metadata.metadata("scatterpool")["Requires-Python"])
    cmake = re.search(r"find_package\(Python (\d+)\.(\d+) ", _read("cpp", "bindings", "CMakeLists.txt"))
    assert cmake is not None, "cpp/bindings/CMakeLists.txt names no minimum Python version"
    assert claimed == (int(cmake.group(1)), int(cmake.group(2)))


def test_a_cmake_build_outside_the_wheel_takes_the_version_of_the_package(tmp_path):
    cmake = shutil.which("cmake")
    assert cmake is not None, "cmake is in the test extra"
    subprocess.run(
        [cmake, "-S", ROOT, "-B", str(tmp_path), "-DSCATTERPOOL_PYTHON=OFF", "-DSCATTERPOOL_TESTS=OFF",
         "-DSCATTERPOOL_INSTALL=OFF"],
        check=True, capture_output=True, timeout=300,
    )
    cache = (tmp_path / "CMakeCache.txt").read_text(encoding="utf-8")
    version = re.search(r"^CMAKE_PROJECT_VERSION:STATIC=(.*)$", cache, re.M)
    assert version is not None
    release = re.match(r"\d+(\.\d+)*", scatterpool.__version__)  # CMake versions are numbers only
    assert release is not None
    assert version.group(1) == release.group(0)


def test_readme_links_the_contract_that_the_repository_holds():
    assert "(docs/contract.md)" in _read("README.md")
    assert _read("docs", "contract.md").startswith("# The contract every pool keeps\n")
