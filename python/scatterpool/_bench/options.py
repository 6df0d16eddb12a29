"""How much a configuration measures: repeats, sizes, loop lengths; ``--quick`` makes everything small."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Options:
    """How much a configuration measures; --quick makes everything small."""

    quick: bool = False
    repeat: int = 7
    repeat_big: int = 5
    target_s: float = 0.05
    map_items: int = 100_000
    kernel_rows: int = 8000
    sizes_mb: list[float] = field(default_factory=lambda: [8, 80, 800])
    pymor_script: str | None = None

    @classmethod
    def make(cls, quick: bool, repeat: int | None, sizes_mb: list[float], pymor_script: str | None) -> Options:
        if quick:
            return cls(True, repeat or 3, repeat or 3, 0.01, 10_000, 2000, sizes_mb, pymor_script)
        return cls(False, repeat or 7, repeat or 5, 0.05, 100_000, 8000, sizes_mb, pymor_script)

    def argv(self) -> list[str]:
        out = ["--repeat", str(self.repeat), "--sizes", ",".join(f"{s:g}" for s in self.sizes_mb)]
        if self.quick:
            out.append("--quick")
        if self.pymor_script:
            out += ["--pymor-script", self.pymor_script]
        return out
