"""The README's Python examples run as written."""

import os
import re

import pytest

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def run_block(heading: str) -> dict:
    """Runs the first python block of the README section under ``heading``; returns its names."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split(heading, 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None, f"the section {heading!r} has no python block"
    namespace: dict = {}
    exec(compile(block.group(1), f"README.md:{heading}", "exec"), namespace)
    return namespace


def test_quickstart_runs():
    namespace = run_block("## Quickstart")
    assert namespace["norms"].shape == (200_000,)
    assert namespace["gram"].shape == (50, 50)
    assert len(namespace["sweep"]) == 101
    assert namespace["U"].removed and namespace["model"].removed


def test_pymor_example_runs():
    pytest.importorskip("pymor", reason="pyMOR comes with the pymor extra (part of the test extra)")
    namespace = run_block("## Using scatterpool with pyMOR")
    greedy = namespace["greedy"]
    assert greedy["extensions"] == 6
    assert namespace["pool"].closed
