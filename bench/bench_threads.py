"""ThreadPool's rows (dispatch, map and kernels beside ThreadPoolExecutor; worker counts; scatter_array against size):
``python -m scatterpool bench --only threads,workers,sizes``.

Kept as an entry point for habit; the suite lives in the package (scatterpool._bench) and takes the
same options here (--quick, --json FILE, --plots DIR, --repeat N, --sizes MB,...).
"""

import sys

from scatterpool.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "threads,workers,sizes", *sys.argv[1:]]))
