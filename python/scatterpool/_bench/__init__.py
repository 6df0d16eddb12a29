"""``python -m scatterpool bench``: scatterpool beside what users would pick instead, in one run.

- ``suite``: the configurations, which of them the installed extras allow, one process each
  (MPI ones under ``mpiexec``), the table, the JSON;
- ``child``: runs one configuration in its process; ``configs/*``: the configurations;
- ``timing``: loops, repeats, interleaving, the load of other processes; ``record``: what a
  configuration measured; ``work``: the functions and arrays the pools get;
- ``report``: the table; ``plots``: the PNG figures (matplotlib).
"""
