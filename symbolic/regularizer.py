"""Pascanu, Mikolov and Bengio's (2013) remedies: the vanishing-gradient regulariser and clipping.

Write ``v_t = (dE/ds_t)^T`` for the error backpropagated to the state at
step ``t`` (a column; one block ``v^{h}_t``, ``v^{c}_t``... per state
vector).  Their regulariser (their section on vanishing gradient regularization)
is

    Omega = sum_t ( ||(dE/ds_t)(ds_t/ds_{t-1})||_2 / ||dE/ds_t||_2 - 1 )^2,

which is zero when every step of backpropagation keeps the error's norm.
The row ``(dE/ds_t)(ds_t/ds_{t-1})`` is ``(J_t^T v_t)^T`` with ``J_t`` the
cell's step Jacobian, so it never needs ``J_t`` itself: pushing the
transpose through the factors of each derived block gives it in closed form
(:func:`vector_jacobian_product`), ``W^T (f'(a_t) ⊙ v_t)`` for the Elman
RNN, which is the row ``(v_t ⊙ f'(a_t))^T W``: one matrix-vector product
per step instead of a matrix product.  A :class:`VectorJacobianClaim` checks
it exactly against ``v^T`` times SymPy's elementwise ``Matrix.jacobian``.

Their gradient-norm clipping (Algorithm 1) is stated and checked in
:func:`clipping_step`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import DiagMatrix, HadamardProduct

from .cells import Cell, TimedVector, t
from .derivation import Claim, Derivation, EqualityClaim, Notation, Outcome, Step
from .explicit import elementwise_jacobian, entries, exactly_equal, explicit
from .generic import full_state
from .jacobians import step_jacobian_blocks
from .printers import latex, text

__all__ = [
    "VectorJacobianClaim",
    "adjoints",
    "clipping_step",
    "regularizer_derivation",
    "transpose_times",
    "vector_jacobian_product",
]


def adjoints(cell: Cell) -> tuple[sp.MatrixSymbol, ...]:
    """``v^{h}_t = (dE/dh_t)^T`` for each state vector ``h`` of ``cell``, in full-state order.

    Examples
    --------
    >>> from symbolic.lstm import lstm
    >>> adjoints(lstm())
    (v^{h}_{t}, v^{c}_{t})
    """
    return tuple(TimedVector(f"v^{{{v.base}}}", v.rows, 0).symbol for v in cell.new_state)


def transpose_times(matrix: sp.MatrixExpr, v: sp.MatrixExpr) -> sp.MatrixExpr:
    """``matrix^T v`` as a column, the transpose pushed through every factor.

    ``(A_1 A_2 ... A_k)^T v = A_k^T (... (A_1^T v))``, ``diag(d)^T v = d ⊙ v``,
    sums term by term: no matrix product is formed, only matrix-vector ones.

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> W, d, v = sp.MatrixSymbol("W", n, n), sp.MatrixSymbol("d", n, 1), sp.MatrixSymbol("v", n, 1)
    >>> text(transpose_times(DiagMatrix(d) * W, v))
    'W^T (d ⊙ v)'
    """
    if isinstance(matrix, sp.ZeroMatrix):
        return sp.ZeroMatrix(matrix.shape[1], 1)
    if isinstance(matrix, sp.Identity):
        return v
    if isinstance(matrix, DiagMatrix):
        factors = (matrix.args[0], v)
        flat = [g for f in factors for g in (f.args if isinstance(f, HadamardProduct) else (f,))]
        return HadamardProduct(*flat)
    if isinstance(matrix, sp.MatAdd):
        return _sum([transpose_times(term, v) for term in matrix.args], matrix.shape[1])
    if isinstance(matrix, sp.MatMul):
        coefficient, product = matrix.as_coeff_mmul()
        out = v
        for factor in product.args:
            out = transpose_times(factor, out)
        return out if coefficient == 1 else coefficient * out
    return matrix.T * v


def _sum(terms: list[sp.MatrixExpr], rows: sp.Expr) -> sp.MatrixExpr:
    kept = [term for term in terms if not isinstance(term, sp.ZeroMatrix)]
    if not kept:
        return sp.ZeroMatrix(rows, 1)
    return kept[0] if len(kept) == 1 else sp.MatAdd(*kept)


def vector_jacobian_product(cell: Cell) -> tuple[sp.MatrixExpr, ...]:
    """``J_t^T v_t`` block by block: entry ``j`` is ``sum_i (d new_i / d old_j)^T v^{(i)}_t``.

    The transpose of the row ``(dE/ds_t)(ds_t/ds_{t-1})``, split like the
    previous state; the adjoints are :func:`adjoints`.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> text(vector_jacobian_product(elman_rnn("tanh"))[0])
    "W^T (tanh'(a_t) ⊙ v^{h}_t)"
    """
    blocks = step_jacobian_blocks(cell)
    vs = adjoints(cell)
    return tuple(
        _sum([transpose_times(blocks[i][j], vs[i]) for i in range(len(vs))], old.shape[0])
        for j, old in enumerate(cell.state_symbols)
    )


@dataclass(frozen=True)
class VectorJacobianClaim(Claim):
    """``sum_i (d new_i / d wrt)^T v^{(i)}_t == expr``: one block of ``J_t^T v_t``.

    Checked exactly at every size in ``sizes`` (all size symbols set to it)
    against the transpose of SymPy's elementwise ``Matrix.jacobian`` of the
    explicit cell times the explicit adjoints, and numerically by
    :func:`numeric.regularizer.check_vector_jacobian`.
    """

    cell: Cell
    wrt: sp.MatrixSymbol
    expr: sp.MatrixExpr
    sizes: tuple[int, ...] = (2, 3)

    def check_exact(self) -> Outcome:
        cell = self.cell
        for size in self.sizes:
            subs = {d: size for d in cell.dims}
            defs = cell.definitions
            reference = sp.zeros(int(self.wrt.shape[0].xreplace(subs)), 1)
            for new, v in zip(cell.new_state_symbols, adjoints(cell), strict=True):
                reference += elementwise_jacobian(new, self.wrt, subs, defs).T * entries(v, subs)
            if not exactly_equal(explicit(self.expr, subs, defs), reference):
                return Outcome(
                    "exact",
                    False,
                    f"differs from v^T times the elementwise Jacobian at size {size}",
                )
        sizes = ", ".join(map(str, self.sizes))
        return Outcome("exact", True, f"equals v^T times the elementwise Jacobian at sizes {sizes}")


def _omega_notation(cell: Cell) -> Notation:
    """Pascanu et al.'s sum over steps, in the cell's state (``h`` or the full ``s``)."""
    k = sp.Symbol("k", integer=True)
    later, now = (full_state(cell, time) for time in (k + 1, k))
    error = (rf"\frac{{\partial E}}{{\partial {latex(later)}}}", f"dE/d{text(later)}")
    step = (
        rf"\frac{{\partial {latex(later)}}}{{\partial {latex(now)}}}",
        f"d{text(later)}/d{text(now)}",
    )
    return Notation(
        rf"\sum_{{k}} \left( \frac{{\left\lVert {error[0]} {step[0]} \right\rVert_2}}"
        rf"{{\left\lVert {error[0]} \right\rVert_2}} - 1 \right)^2",
        f"sum_k (||({error[1]}) ({step[1]})||_2 / ||{error[1]}||_2 - 1)^2",
    )


def clipping_step(size: int = 3) -> Step:
    """Pascanu et al.'s Algorithm 1, with the norm of the clipped gradient checked exactly.

    ``g`` is the gradient of the loss by every parameter, flattened into one
    vector; the claim: ``||threshold g / ||g|| ||_2 = threshold`` for a
    symbolic ``g`` of ``size`` entries.

    Examples
    --------
    >>> step = clipping_step()
    >>> step.claim.check_exact().passed
    True
    """
    g = sp.Matrix(sp.symbols(f"g_1:{size + 1}", real=True))
    tau = sp.Symbol("tau", positive=True)
    length = sp.sqrt(sum(e**2 for e in g))
    clipped = tau * g / length
    return Step(
        Notation(r"\hat{g}", "ĝ"),
        ":=",
        Notation(
            r"\begin{cases} \tau \, g / \lVert g \rVert_2 & \text{if } \lVert g \rVert_2 \ge \tau "
            r"\\ g & \text{otherwise} \end{cases}",
            "tau g/||g||_2 if ||g||_2 >= tau, else g",
        ),
        "gradient-norm clipping (Pascanu, Mikolov and Bengio 2013, Algorithm 1): $g$ is the "
        "gradient by every parameter as one vector, $\\tau$ the threshold; the step keeps the "
        "direction of $g$ and caps its norm at $\\tau$, "
        f"checked exactly for $g$ with {size} entries",
        EqualityClaim(sum(e**2 for e in clipped), tau**2),
    )


@functools.lru_cache(maxsize=16)
def regularizer_derivation(cell: Cell, sizes: tuple[int, ...] = (2, 3)) -> Derivation:
    """The regulariser's per-step factor for ``cell`` in closed form, and norm clipping.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> d = regularizer_derivation(elman_rnn("tanh"), sizes=(2,))
    >>> [s.rel for s in d.steps]
    [':=', ':=', '=', ':=']
    >>> text(d.steps[2].rhs)
    "W^T (tanh'(a_t) ⊙ v^{h}_t)"
    """
    s_t = full_state(cell, t)
    vs = adjoints(cell)
    several = len(cell.state) > 1
    v_latex = ", ".join(latex(v) for v in vs)
    v_text = ", ".join(text(v) for v in vs)
    steps = [
        Step(
            Notation(rf"v_{{t}} = \left[ {v_latex} \right]", f"v_t = [{v_text}]")
            if several
            else vs[0],
            ":=",
            Notation(
                rf"\left(\frac{{\partial E}}{{\partial {latex(s_t)}}}\right)^\top",
                f"(dE/d{text(s_t)})^T",
            ),
            "the error backpropagated to the state at step $t$, as a column"
            + (", split like the state" if several else ""),
        ),
        Step(
            Notation(r"\Omega", "Omega"),
            ":=",
            _omega_notation(cell),
            "the vanishing-gradient regulariser (Pascanu, Mikolov and Bengio 2013, in their "
            "section on vanishing gradient regularization): zero when every step of "
            "backpropagation keeps the norm of the error; each term is one step $t = k + 1$",
        ),
    ]
    for old, expr in zip(cell.state_symbols, vector_jacobian_product(cell), strict=True):
        partial = rf"\frac{{\partial {latex(s_t)}}}{{\partial {latex(old)}}}"
        steps.append(
            Step(
                Notation(
                    rf"\left(\frac{{\partial E}}{{\partial {latex(s_t)}}} {partial}\right)^\top",
                    f"((dE/d{text(s_t)}) (d{text(s_t)}/d{text(old)}))^T",
                ),
                "=",
                expr,
                "the transpose pushed through each factor of the step Jacobian: "
                "$(A B)^\\top v = B^\\top (A^\\top v)$ and $\\operatorname{diag}(d)^\\top v = "
                "d \\odot v$, so only matrix-vector products remain",
                VectorJacobianClaim(cell, old, expr, sizes),
            )
        )
    steps.append(clipping_step())
    return Derivation(
        title=f"Pascanu's regulariser and norm clipping for the {cell.title}",
        intro=(
            "The regulariser of Pascanu, Mikolov and Bengio (2013) asks each step of "
            "backpropagation through time to keep the norm of the error. Its per-step factor "
            "is the error row times the step Jacobian $J_t = \\partial s_t/\\partial s_{t-1}$; "
            "written as a column it is $J_t^\\top v_t$, derived here block by block from the "
            "cell's step Jacobian."
            + (
                " The state is the full state $s_t$, every state vector stacked, because the "
                "error reaches $s_{t-1}$ through all of them."
                if several
                else ""
            )
        ),
        steps=tuple(steps),
        notes=(
            "Pascanu, Mikolov and Bengio write the state as $x_k$; their $\\Omega$ sums one "
            "term per step, here indexed by the later time $t = k + 1$.",
            "When the loss is read at the last step only, $\\partial E/\\partial s_{t-1} = "
            "(\\partial E/\\partial s_t) J_t$, so each ratio is the factor by which one step "
            "of backpropagation scales the error's norm.",
            "Pascanu et al. differentiate $\\Omega$ through the weights in $J_t$ only, holding "
            "$\\partial E/\\partial s_{k+1}$ and the states fixed (their approximation).",
        ),
    )
