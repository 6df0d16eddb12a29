"""The benchmark suite's timing module, for the scripts in this folder: scatterpool._bench.timing."""

from scatterpool._bench.timing import (  # noqa: F401
    LoadMeter,
    Result,
    Timer,
    machine_header,
    machine_info,
    measure,
    measure_together,
    nproc,
)
