"""pyMOR's own algorithms end to end: the rows of the source tree's ``bench/bench_pymor.py``.

It runs pyMOR's ``rb_greedy`` and ``reduction_error_analysis`` on scatterpool.pymor's pools and on
pyMOR's MPIPool, each against ``pool=None`` timed in the same launch (it starts its MPI launches
itself). Each row is one timing of the whole algorithm; the anchor is the serial run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

from ..options import Options
from ..record import Record


def run(rec: Record, opts: Options) -> None:
    script = opts.pymor_script
    if script is None:
        rec.check(False, "bench/bench_pymor.py was not found")
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pymor.json")
        args = [sys.executable, script, "--json", out] + (["--quick"] if opts.quick else [])
        if shutil.which("mpiexec", path=os.path.dirname(sys.executable)) is None:
            args.append("--no-mpi")
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(out):
            rec.check(False, f"{os.path.basename(script)} ran (exit status {proc.returncode}): {proc.stderr[-2000:]}")
            return
        with open(out) as fh:
            results = json.load(fh)
    for line in proc.stdout.splitlines():          # a launch of it that failed (it goes on with the others)
        if "the run failed" in line:
            rec.check(False, f"{os.path.basename(script)}: {line.strip()}")
    for r in results:
        role = r["role"]
        for work in ("rb_greedy", "reduction_error_analysis"):
            w = r[work]
            rec.check(w["same"], f"{role}: {work} gives the serial results")
            what = f"{work} ({r['dofs']} dofs, {r['training']} parameters)"
            rec.add_times(f"{role}:{work}:serial", f"pyMOR {what}, pool=None", [w["serial"]], pool="serial")
            rec.add_times(f"{role}:{work}:pool", f"pyMOR {what}, pool = {role} ({r['workers']} workers)",
                          [w["pool"]], pool=role)
            rec.compare(f"pyMOR {work} on {role} ({r['workers']} workers)", f"{role}:{work}:pool",
                        f"{role}:{work}:serial")
    rec.note(f"pyMOR end to end: one timing per row from {script} (the spread is not measured)")
