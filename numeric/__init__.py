"""gradproof's numeric side: compiled cells, the finite-difference checker,
verification of derivations, gradient flow in real weights, and the CLI.
"""

from .bounds import evaluate_bound
from .check import check_jacobian
from .compile import compile_cell, lambdify_matrix
from .errors import GradproofInputError
from .flow import gradient_flow
from .verify import verify

__all__ = [
    "GradproofInputError",
    "evaluate_bound",
    "check_jacobian",
    "compile_cell",
    "gradient_flow",
    "lambdify_matrix",
    "verify",
]
