"""gradproof's numeric side: compiled cells, the finite-difference checker,
verification of derivations, gradient flow in real weights, and the CLI.
"""

from .check import check_jacobian
from .compile import compile_cell, lambdify_matrix
from .verify import verify

__all__ = ["check_jacobian", "compile_cell", "lambdify_matrix", "verify"]
