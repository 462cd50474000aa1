"""Run each test process's BLAS on one thread when the suite runs on several cores.

``pytest -n auto`` starts one worker per core; with BLAS's default of one
thread per core in each, the workers' threads wait for one another (the
notebooks then take twice as long).  pytest loads this file before any test
imports NumPy, and the notebook kernels and ``gradproof`` processes the
tests start inherit the setting.
"""

import os

if "PYTEST_XDIST_WORKER" in os.environ:
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, "1")
