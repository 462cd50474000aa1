"""Run each test process's BLAS on one thread when the suite runs on several cores.

``pytest -n auto`` starts one worker per core; with BLAS's default of one
thread per core in each, the workers' threads wait for one another (the
notebooks then take twice as long).  Loaded before any test imports NumPy,
so it takes effect, and inherited by the notebook kernels and the
``gradproof`` processes the tests start.
"""

import os
import sys

if "PYTEST_XDIST_WORKER" in os.environ:
    assert "numpy" not in sys.modules, "NumPy was imported before the BLAS threads were set"
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, "1")
