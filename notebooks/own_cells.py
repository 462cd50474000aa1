"""Four recurrent cells gradproof does not ship, written with its public builder.

Each function returns a :class:`symbolic.Cell`, so each can be named on the
command line as ``notebooks/own_cells.py:FUNCTION``::

    gradproof derive notebooks/own_cells.py:indrnn
    gradproof params notebooks/own_cells.py:antisymmetric_rnn
    gradproof flow notebooks/own_cells.py:mgu --size n=8 --size m=3

Notebook 04 walks through them.
"""

import sympy as sp

from symbolic import CellBuilder, MaxAbs, SigmaMax, StepBound, elementwise, hadamard


def indrnn():
    """IndRNN (Li et al. 2018): ``h_t = relu(W x_t + u ⊙ h_{t-1} + b)``.

    Each unit feeds back only to itself, through the vector ``u``, so the step
    Jacobian is ``diag(relu'(a_t)) diag(u)`` and its norm is at most
    ``max_i |u_i|``: a sharper bound than ``sigma_max`` of a full matrix.
    """
    cb = CellBuilder("indrnn", "IndRNN (Li et al. 2018)")
    n, m = cb.sizes("n", "m")
    h, x = cb.state("h", n), cb.input("x", m)
    u, W, b = cb.vector("u", n), cb.matrix("W", n, m), cb.vector("b", n)
    a = cb.define("a", W * x + hadamard(u, h) + b)
    cb.update(h, elementwise("relu", a))
    return cb.build(
        StepBound(
            MaxAbs(u),
            r"$\lVert \operatorname{diag}(\operatorname{relu}'(a_t)) \operatorname{diag}(u) "
            r"\rVert_2 \le \max_i |u_i|$, as $0 \le \operatorname{relu}' \le 1$",
            gamma=1,
        )
    )


def mgu():
    """The minimal gated unit (Zhou et al. 2016): one forget gate ``f_t`` does both jobs.

    ``f_t = sigma(W_f h_{t-1} + U_f x_t + b_f)``,
    ``g_t = tanh(W_h (f_t ⊙ h_{t-1}) + U_h x_t + b_h)`` (the candidate),
    ``h_t = (1 - f_t) ⊙ h_{t-1} + f_t ⊙ g_t``.  No norm bound is declared.
    """
    cb = CellBuilder("mgu", "minimal gated unit (Zhou et al. 2016)")
    n, m = cb.sizes("n", "m")
    h, x = cb.state("h", n), cb.input("x", m)
    W_f, U_f, b_f = cb.matrix("W_f", n, n), cb.matrix("U_f", n, m), cb.vector("b_f", n)
    W_h, U_h, b_h = cb.matrix("W_h", n, n), cb.matrix("U_h", n, m), cb.vector("b_h", n)
    f = cb.define("f", elementwise("sigmoid", W_f * h + U_f * x + b_f))
    cand = cb.define("g", elementwise("tanh", W_h * hadamard(f, h) + U_h * x + b_h))
    cb.update(h, hadamard(sp.OneMatrix(n, 1) - f, h) + hadamard(f, cand))
    return cb.build()


def peephole_lstm():
    """The peephole LSTM (Gers, Schraudolph and Schmidhuber 2002).

    The input and forget gates read the old memory ``c_{t-1}``, the output
    gate the new memory ``c_t``, through diagonal weights ``p_i, p_f, p_o``.
    """
    cb = CellBuilder("peephole", "peephole LSTM (Gers, Schraudolph and Schmidhuber 2002)")
    n, m = cb.sizes("n", "m")
    h, c, x = cb.state("h", n), cb.state("c", n), cb.input("x", m)

    def gate(name, activation, peephole=None):
        W, U, b = (
            cb.matrix(f"W_{name}", n, m),
            cb.matrix(f"U_{name}", n, n),
            cb.vector(f"b_{name}", n),
        )
        pre = W * x + U * h + b
        if peephole is not None:
            pre = pre + hadamard(cb.vector(f"p_{name}", n), peephole)
        return cb.define(name, elementwise(activation, pre))

    i, f, g = gate("i", "sigmoid", c), gate("f", "sigmoid", c), gate("g", "tanh")
    c_t = cb.update(c, hadamard(f, c) + hadamard(i, g))
    o = gate("o", "sigmoid", c_t)
    cb.update(h, hadamard(o, elementwise("tanh", c_t)))
    return cb.build()


def antisymmetric_rnn():
    """The antisymmetric RNN (Chang et al. 2019), a forward-Euler step of an ODE.

    ``h_t = h_{t-1} + epsilon tanh((W - W^T - gamma I) h_{t-1} + V x_t + b)``
    with step size ``epsilon`` and damping ``gamma`` (positive scalars).  The
    step Jacobian is ``I + epsilon diag(tanh'(a_t)) A`` with
    ``A = W - W^T - gamma I``, so its norm is at most ``1 + epsilon sigma_max(A)``.
    """
    cb = CellBuilder("antisymmetric", "antisymmetric RNN (Chang et al. 2019)")
    n, m = cb.sizes("n", "m")
    h, x = cb.state("h", n), cb.input("x", m)
    W, V, b = cb.matrix("W", n, n), cb.matrix("V", n, m), cb.vector("b", n)
    eps, gamma = cb.scalar("epsilon"), cb.scalar("gamma")
    A = W - W.T - gamma * sp.Identity(n)
    a = cb.define("a", A * h + V * x + b)
    cb.update(h, h + eps * elementwise("tanh", a))
    return cb.build(
        StepBound(
            1 + eps * SigmaMax(A),
            r"$\lVert I + \epsilon \operatorname{diag}(\tanh'(a_t)) A \rVert_2 "
            r"\le 1 + \epsilon\, \sigma_{\max}(A)$, as $0 < \tanh' \le 1$",
            matrix=A,
        )
    )
