"""The README's Python quickstart runs as written."""

import os
import re

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def test_quickstart_runs():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Quickstart", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None, "the Quickstart section has no python block"
    namespace: dict = {}
    exec(compile(block.group(1), "README.md:Quickstart", "exec"), namespace)
    assert namespace["norms"].shape == (200_000,)
    assert namespace["gram"].shape == (50, 50)
    assert len(namespace["sweep"]) == 101
    assert namespace["U"].removed and namespace["model"].removed
