"""The suite's one table: per operation its median, spread, anchor, ratio and target."""

from __future__ import annotations

import statistics
from typing import Any

from .record import Target

NOISY = 0.10      # share of all CPUs used by other processes above which a configuration is noisy


def fmt_time(seconds: float) -> str:
    for scale, unit in ((1e9, "ns"), (1e6, "us"), (1e3, "ms")):
        if seconds * scale < 1000:
            v = seconds * scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{seconds:.3g} s"


def row_stats(row: dict[str, Any]) -> dict[str, Any]:
    """Median, best, max, spread ((max - best) / median), GB/s at the median of a row's repeats."""
    times = row["times"]
    med = statistics.median(times)
    out = {"median": med, "best": min(times), "max": max(times),
           "spread": (max(times) - min(times)) / med if med > 0 else 0.0, "repeats": len(times)}
    if row.get("nbytes"):
        out["gbps"] = row["nbytes"] / (med * row.get("items", 1)) / 1e9
    return out


def table_rows(configs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per comparison of every configuration that ran, with the figures of the table."""
    out = []
    for name, rec in configs.items():
        rows = rec.get("rows", {})
        for c in rec.get("comparisons", []):
            ours, anchor = rows[c["ours"]], rows[c["anchor"]]
            so, sa = row_stats(ours), row_stats(anchor)
            ratio = so["median"] / sa["median"] if sa["median"] > 0 else float("inf")
            t = c.get("target")
            target = Target(t["kind"], t["value"]) if t else None
            out.append({
                "config": name, "operation": c["op"], "per": ours["per"],
                "median": so["median"], "spread": so["spread"], "gbps": so.get("gbps"),
                "anchor": anchor["name"], "anchor_median": sa["median"], "anchor_spread": sa["spread"],
                "ratio": ratio, "target": target.text() if target else None,
                "met": None if target is None else target.met(ratio),
            })
    return out


def _markdown(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if a == "l" else c.rjust(w)
                                 for c, w, a in zip(cells, widths, align, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" if a == "r" else "-" * (w + 2)
                          for w, a in zip(widths, align, strict=True)) + "|"
    return [line(header), rule] + [line(r) for r in rows]


def print_table(entries: list[dict[str, Any]]) -> None:
    cells = []
    for e in entries:
        med = fmt_time(e["median"]) + f"/{e['per']}"
        if e.get("gbps") is not None:
            med += f" ({e['gbps']:.2f} GB/s)"
        verdict = "" if e["met"] is None else ("met" if e["met"] else "MISSED")
        cells.append([e["config"], e["operation"], med, f"{e['spread']:.0%}", e["anchor"],
                      fmt_time(e["anchor_median"]), f"{e['ratio']:.3g}", e["target"] or "(info)", verdict])
    header = ["config", "operation", "median", "spread", "anchor (same run)", "anchor median", "ratio",
              "target", ""]
    print("\n".join(_markdown(header, cells, "llrrlrrll")))


def print_config_lines(configs: dict[str, dict[str, Any]]) -> None:
    """Per configuration: its time, the CPU other processes used meanwhile, its checks and notes."""
    for name, rec in configs.items():
        if rec.get("status") != "ok":
            print(f"- {name}: FAILED ({rec.get('error', '?')})")
            continue
        load = rec.get("other_cpu")
        busy = "" if load is None else f", other processes used {load:.0%} of the CPUs" + (
            " (noisy: not comparable with a quiet run)" if load > NOISY else "")
        failed = rec.get("checks_failed", [])
        checks = (f"{rec.get('checks_passed', 0)} checks passed" if not failed
                  else f"{len(failed)} checks FAILED: " + "; ".join(failed))
        print(f"- {name}: {rec.get('seconds', 0):.1f} s{busy}; {checks}")
        for note in rec.get("notes", []):
            print(f"  {note}")
