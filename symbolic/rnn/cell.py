"""The Elman RNN ``a_t = W h_{t-1} + U x_t + b``, ``h_t = f(a_t)``, with its step bound."""

from __future__ import annotations

import sympy as sp

from ..activations import Activation, activation
from ..bounds import SigmaMax, StepBound
from ..cells import Cell, Equation, TimedVector

__all__ = ["elman_rnn"]


def elman_rnn(act: str | Activation | sp.Lambda = "tanh") -> Cell:
    """The Elman RNN ``a_t = W h_{t-1} + U x_t + b``, ``h_t = f(a_t)``.

    Parameters
    ----------
    act : str, Activation or sympy.Lambda
        The elementwise nonlinearity ``f``, by registry name or as a Lambda.

    Examples
    --------
    >>> rnn = elman_rnn("tanh")
    >>> [str(eq.lhs) + " = " + str(eq.rhs) for eq in rnn.equations][0]
    'a_{t} = U*x_{t} + W*h_{t-1} + b'
    """
    f = activation(act)
    n, m = sp.symbols("n m", integer=True, positive=True)
    h_prev, h = TimedVector("h", n, -1), TimedVector("h", n, 0)
    x, a = TimedVector("x", m, 0), TimedVector("a", n, 0)
    W = sp.MatrixSymbol("W", n, n)
    U = sp.MatrixSymbol("U", n, m)
    b = sp.MatrixSymbol("b", n, 1)
    return Cell(
        name="rnn",
        title=f"Elman RNN ({f.name})",
        state=(h_prev,),
        new_state=(h,),
        inputs=(x,),
        params=(W, U, b),
        equations=(
            Equation(a.symbol, W * h_prev.symbol + U * x.symbol + b),
            Equation(h.symbol, f(a.symbol)),
        ),
        intermediates=(a,),
        dims=(n, m),
        bound=StepBound(
            f.gamma * SigmaMax(W),
            r"$\lVert \operatorname{diag}(f'(a_t))\, W \rVert_2 \le \max_z |f'(z)|\, \sigma_{\max}(W)$",
            gamma=f.gamma,
            matrix=W,
        ),
    )
