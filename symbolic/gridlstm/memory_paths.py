"""What a Grid LSTM memory's own Jacobian block is, read off the SymPy block.

The block ``dm_i/dm_i^{in}`` of an LSTM dimension ``i`` always holds the
additive path ``diag(g^{f,i})`` of the memory update ``m' = g^f * m + ...``.
It is the *constant error carousel* (Hochreiter and Schmidhuber 1997; with a
forget gate, Gers, Schmidhuber and Cummins 2000) only when nothing else is
added: when no gate of the dimension reads, directly or through another
dimension's new hidden vector, the memory it updates.  In the paper's block
(Kalchbrenner, Danihelka and Graves 2016, Sec. 3) that holds for both
memories; in the stacked reading the depth gates read the new ``h^T_{t,l}``,
which the time gates compute from ``m^D_{t,l-1}``, so the depth block gains
terms through weight matrices and gate derivatives.

:func:`memory_path` reads a :class:`MemoryPath` off the derivative; its
:meth:`~MemoryPath.reason` and :meth:`~MemoryPath.sentence` are the words the
derivations print, built from what the block holds and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import DiagMatrix
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..activations import ACTIVATIONS
from ..jacobians import derivative
from ..printers import latex
from .sequence_models import GridSequenceModel

__all__ = [
    "CAROUSEL",
    "MemoryPath",
    "memory_path",
    "memory_summary",
    "squashing_derivatives",
    "weight_blocks",
]

#: LaTeX of the derivative of each squashing activation.
_DERIVATIVE_LATEX = {"sigmoid": "\\sigma'", "tanh": "\\tanh'"}
#: Where the carousel comes from, as cited in every statement about it.
CAROUSEL = (
    "the constant error carousel (Hochreiter and Schmidhuber 1997; forget gate: Gers, "
    "Schmidhuber and Cummins 2000)"
)


def weight_blocks(expr: sp.Basic, params) -> tuple[str, ...]:
    """Names of the weight blocks in ``expr``, without gate or layer index, sorted.

    Examples
    --------
    >>> from symbolic.gridlstm.sequence_models import grid_lstm_2d
    >>> model = grid_lstm_2d()
    >>> pre = model.cell.definitions[model.block.preactivation("T", "forget")]
    >>> weight_blocks(pre, model.cell.params)
    ('W^{TD}', 'W^{TT}')
    """
    params = set(params)
    return tuple(
        sorted(
            {
                s.name.split("_{")[0]
                for s in expr.free_symbols
                if s in params and isinstance(s, sp.MatrixSymbol) and s.shape[1] != 1
            }
        )
    )


def squashing_derivatives(expr: sp.Basic) -> tuple[str, ...]:
    """Registry names of the activations whose derivative appears in ``expr``.

    Examples
    --------
    >>> from symbolic.activations import activation
    >>> x = sp.MatrixSymbol("x", 2, 1)
    >>> squashing_derivatives(DiagMatrix(x.applyfunc(activation("tanh").derivative)))
    ('tanh',)
    >>> squashing_derivatives(DiagMatrix(x))
    ()
    """
    applied = {f.function for f in expr.atoms(ElementwiseApplyFunction)}
    return tuple(
        name for name in sorted(_DERIVATIVE_LATEX) if ACTIVATIONS[name].derivative in applied
    )


@dataclass(frozen=True)
class MemoryPath:
    """The block ``d m_out / d m_in`` of one LSTM dimension, taken apart.

    Attributes
    ----------
    label, name, axis : str
        The dimension's label (``"D"``), word (``"depth"``) and LaTeX of its
        axis (``"l"``).
    out, wrt : sympy.MatrixSymbol
        The new memory and the incoming one.
    forget : sympy.MatrixSymbol
        The dimension's forget gate ``g^f``.
    block : sympy.MatrixExpr
        The block, as the chain rule gives it.
    additive : bool
        Whether ``diag(g^f)`` is one of its terms.
    rest : sympy.MatrixExpr
        Everything but ``diag(g^f)`` (a zero matrix for a pure carousel).
    weights : tuple of str
        Weight blocks in ``rest`` (:func:`weight_blocks`).
    derivatives : tuple of str
        Activations whose derivatives appear in ``rest``.
    via : tuple of sympy.MatrixSymbol
        The vectors the dimension's gates read that depend on ``wrt``.
    """

    label: str
    name: str
    axis: str
    out: sp.MatrixSymbol
    wrt: sp.MatrixSymbol
    forget: sp.MatrixSymbol
    block: sp.MatrixExpr
    additive: bool
    rest: sp.MatrixExpr
    weights: tuple[str, ...]
    derivatives: tuple[str, ...]
    via: tuple[sp.MatrixSymbol, ...]

    @property
    def pure(self) -> bool:
        """Whether the block is ``diag(g^f)`` and nothing else: a constant error carousel."""
        return self.additive and self.rest.is_ZeroMatrix is True

    def _extra(self) -> str:
        parts = []
        if self.weights:
            parts.append("the weight blocks " + ", ".join(f"${w}$" for w in self.weights))
        if self.derivatives:
            parts.append(
                "the derivatives "
                + ", ".join(f"${_DERIVATIVE_LATEX[n]}$" for n in self.derivatives)
            )
        because = "; ".join(
            f"the {self.name} gates read ${latex(v)}$"
            + ("" if v == self.wrt else f", which depends on ${latex(self.wrt)}$")
            for v in self.via
        )
        what = " and ".join(parts) or "other factors"
        return f"terms through {what}" + (f", because {because}" if because else "")

    def reason(self) -> str:
        """The words beside the block in the derivation, true of :attr:`block`.

        Examples
        --------
        >>> from symbolic.gridlstm.sequence_models import grid_lstm_2d
        >>> print(memory_path(grid_lstm_2d("stacked"), "T").reason())  # doctest: +ELLIPSIS
        along time: the constant error carousel (...), the additive memory path alone, exactly $\\operatorname{diag}(g^{f,T}_{t,l})$ along $t$: no weight matrix, no squashing derivative; the identity when the forget gate is fully open
        >>> print(memory_path(grid_lstm_2d("stacked"), "D").reason())
        along depth: not a pure carousel: the additive memory path $\\operatorname{diag}(g^{f,D}_{t,l})$ plus terms through the weight blocks $U^{TD}$, $W^{DT}$ and the derivatives $\\sigma'$, $\\tanh'$, because the depth gates read $h^{T}_{t,l}$, which depends on $m^{D}_{t,l-1}$
        """
        diag = f"$\\operatorname{{diag}}({latex(self.forget)})$"
        if self.pure:
            return (
                f"along {self.name}: {CAROUSEL}, the additive memory path alone, exactly {diag} "
                f"along ${self.axis}$: no weight matrix, no squashing derivative; the identity "
                "when the forget gate is fully open"
            )
        if self.additive:
            return (
                f"along {self.name}: not a pure carousel: the additive memory path {diag} plus "
                + self._extra()
            )
        return f"along {self.name}: memory from the incoming memory, " + self._extra()

    def sentence(self) -> str:
        """One sentence for the derivation's introduction, true of :attr:`block`.

        Examples
        --------
        >>> from symbolic.gridlstm.sequence_models import grid_lstm_2d
        >>> print(memory_path(grid_lstm_2d(), "D").sentence())
        Along depth the memory's own block is $\\operatorname{diag}(g^{f,D}_{t,l})$ alone, so where that forget gate stays near 1 the error passes along $m^{D}$ unattenuated.
        """
        diag = f"$\\operatorname{{diag}}({latex(self.forget)})$"
        head = f"Along {self.name} the memory's own block is"
        if self.pure:
            return (
                f"{head} {diag} alone, so where that forget gate stays near 1 the error passes "
                f"along $m^{{{self.label}}}$ unattenuated."
            )
        lead = f"{head} {diag} plus " if self.additive else f"{head} made of "
        return (
            lead
            + self._extra()
            + ": a forget gate near 1 does not by itself let the error pass unattenuated."
        )


def memory_path(model: GridSequenceModel, label: str) -> MemoryPath:
    """The block ``d m^{label}_{new} / d m^{label}_{in}`` of a model, taken apart.

    Examples
    --------
    >>> from symbolic.gridlstm.sequence_models import grid_lstm_2d
    >>> paper, stacked = grid_lstm_2d(priority="depth"), grid_lstm_2d("stacked")
    >>> memory_path(paper, "D").pure, memory_path(stacked, "T").pure
    (True, True)
    >>> path = memory_path(stacked, "D")
    >>> path.pure, path.additive, path.weights, [str(v) for v in path.via]
    (False, True, ('U^{TD}', 'W^{DT}'), ['h^{T}_{t,l}'])
    """
    block, defs = model.block, model.cell.definitions
    dim = block.dimension(label)
    if not dim.has_memory:
        raise ValueError(f"dimension {label} has no memory")
    out, wrt = block.vector("m", label, "new"), block.vector("m", label, "in")
    forget = block.gate(label, "forget")
    expr = derivative(out, wrt, defs)
    terms = list(expr.args) if isinstance(expr, sp.MatAdd) else [expr]
    carousel = DiagMatrix(forget)
    additive = carousel in terms
    others = [x for x in terms if x != carousel]
    rest = sp.MatAdd(*others) if others else sp.ZeroMatrix(*expr.shape)
    via = tuple(
        v
        for v in (block.vector(*ref) for ref in dict(block.reads)[label])
        if v == wrt or not derivative(v, wrt, defs).is_ZeroMatrix
    )
    return MemoryPath(
        label=label,
        name=dim.name,
        axis=sp.latex(dim.axis),
        out=out,
        wrt=wrt,
        forget=forget,
        block=expr,
        additive=additive,
        rest=rest,
        weights=weight_blocks(rest, model.cell.params),
        derivatives=squashing_derivatives(rest),
        via=via,
    )


def memory_summary(paths: list[MemoryPath] | tuple[MemoryPath, ...]) -> str:
    """What the memories' own blocks are, in a sentence or one per memory.

    Examples
    --------
    >>> from symbolic.gridlstm.sequence_models import grid_lstm_2d
    >>> model = grid_lstm_2d()
    >>> print(memory_summary([memory_path(model, "T"), memory_path(model, "D")]))
    Each memory's own block is its forget gate alone, $\\operatorname{diag}(g^{f,T}_{t,l})$ along time and $\\operatorname{diag}(g^{f,D}_{t,l})$ along depth: the constant error carousel (Hochreiter and Schmidhuber 1997; forget gate: Gers, Schmidhuber and Cummins 2000) in both directions, so where the forget gates stay near 1 the error passes along the memories unattenuated.
    """
    if len(paths) > 1 and all(path.pure for path in paths):
        blocks = " and ".join(
            f"$\\operatorname{{diag}}({latex(path.forget)})$ along {path.name}" for path in paths
        )
        return (
            f"Each memory's own block is its forget gate alone, {blocks}: {CAROUSEL} in "
            f"{'both directions' if len(paths) == 2 else 'every direction'}, so where the forget "
            "gates stay near 1 the error passes along the memories unattenuated."
        )
    return " ".join(path.sentence() for path in paths)
