"""The scaling figures as PNG files (matplotlib): each pool's curve with its anchors on the same axes.

- ``scatter_copy_size.png``: scatter_array(copy=True) in GB/s against the data size, beside
  ``np.copyto`` (fresh and warm, 1 and 2 threads), raw ``Scatterv`` and pyMOR: copies should run
  near the bandwidth lines;
- ``scatter_view_size.png``: scatter_array(copy=False) time per call against the data size,
  beside dask's scatter: zero-copy should be flat;
- ``dispatch_workers.png``: the apply(f) round trip against the worker count, beside
  ThreadPoolExecutor, raw mpi4py and bare Python calls; past the CPUs, oversubscribed (shaded).

Anchors are dashed; error bars span best to max over the repeats; points are medians.
"""

from __future__ import annotations

import importlib
import os
import statistics
from typing import Any

from .record import SIZE_PLOT_COPY, SIZE_PLOT_VIEW, WORKERS_PLOT
from .work import size_label

FILES = {SIZE_PLOT_COPY: "scatter_copy_size.png", SIZE_PLOT_VIEW: "scatter_view_size.png",
         WORKERS_PLOT: "dispatch_workers.png"}


def series(configs: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """plot -> line -> {"anchor": bool, "points": [(x, median, best, max, nbytes)]}, over all configurations."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for rec in configs.values():
        if rec.get("status") != "ok":
            continue
        for row in rec["rows"].values():
            if "plot" not in row:
                continue
            line = out.setdefault(row["plot"], {}).setdefault(
                row["line"], {"anchor": bool(row.get("anchor_line")), "points": []})
            t = row["times"]
            line["points"].append((row["x"], statistics.median(t), min(t), max(t), row.get("nbytes")))
    for lines in out.values():
        for line in lines.values():
            line["points"].sort()
    return out


def draw(configs: dict[str, dict[str, Any]], folder: str, cpus: int) -> list[str]:
    # matplotlib is optional (the bench extra): imported here, used as Any
    importlib.import_module("matplotlib").use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")

    os.makedirs(folder, exist_ok=True)
    written = []
    for plot, lines in series(configs).items():
        fig, ax = plt.subplots(figsize=(11, 5.5))
        ours_colors = iter(plt.get_cmap("tab10")(i) for i in range(10 * 3))
        anchor_colors = iter(plt.get_cmap("Dark2")(i % 8) for i in range(8 * 3))
        for name, line in sorted(lines.items(), key=lambda kv: (kv[1]["anchor"], kv[0])):
            pts = line["points"]
            xs = [p[0] / 1e6 if plot != WORKERS_PLOT else p[0] for p in pts]
            if plot == SIZE_PLOT_COPY:            # GB/s: higher is better; the error bar from max to best
                ys = [p[4] / p[1] / 1e9 for p in pts]
                lo = [y - p[4] / p[3] / 1e9 for y, p in zip(ys, pts, strict=True)]
                hi = [p[4] / p[2] / 1e9 - y for y, p in zip(ys, pts, strict=True)]
            else:                                 # microseconds per call
                ys = [p[1] * 1e6 for p in pts]
                lo = [(p[1] - p[2]) * 1e6 for p in pts]
                hi = [(p[3] - p[1]) * 1e6 for p in pts]
            color = next(anchor_colors if line["anchor"] else ours_colors)
            ax.errorbar(xs, ys, yerr=[lo, hi], label=name, marker="s" if line["anchor"] else "o", color=color,
                        linestyle="--" if line["anchor"] else "-", capsize=3, markersize=4)
        ticks = sorted({p[0] for line in lines.values() for p in line["points"]})
        if plot == WORKERS_PLOT:
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.set_xlabel("workers (threads or MPI ranks)")
            ax.set_ylabel("time per apply(f), us")
            right = max(p[0] for line in lines.values() for p in line["points"])
            if right > cpus:
                ax.axvspan(cpus + 0.5, right * 1.2, color="0.9", zorder=0,
                           label=f"oversubscribed (more workers than the {cpus} CPUs)")
        else:
            ax.set_xscale("log")
            ax.set_xticks([t / 1e6 for t in ticks], [size_label(t) for t in ticks])
            ax.minorticks_off()
            ax.set_xlabel("array size")
            ax.set_yscale("log")
            if plot == SIZE_PLOT_COPY:
                ax.set_ylabel("GB/s (array bytes / median time)")
            else:
                ax.set_ylabel("time per call, us")
        ax.set_title(plot)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        path = os.path.join(folder, FILES[plot])
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
