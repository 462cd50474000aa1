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


def pytest_collection_modifyitems(items):
    """Tests marked ``heavy`` first, each module's tests kept together and in order.

    ``pytest-xdist``'s work stealing hands each worker a contiguous part of
    the collection and lets an idle worker take the tail of another's queue.
    With the long tests (notebooks, the report, the figures) at the head,
    the queues end in short tests and both workers finish together; in
    alphabetical order a 20-second notebook could be a worker's last test
    while the other had nothing left to take.
    """
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)
