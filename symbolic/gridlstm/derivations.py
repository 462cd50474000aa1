"""The 2D Grid LSTM's equations and Jacobians along time and depth, as derivations.

Three derivations, generated from the cell descriptions of
:mod:`symbolic.gridlstm.sequence_models`:

* :func:`equations_derivation`: every gate, memory and hidden-state equation
  along time and along depth at grid point ``(t, l)``, the bottom boundary
  and the output;
* :func:`comparison_derivation`: the stacked reading (the reading of the
  course answer the project started from) beside the paper's, with the
  differences computed from the two descriptions
  (:mod:`symbolic.gridlstm.description`);
* :func:`jacobian_derivation`: the block Jacobian from
  ``(h^T_{t-1,l}, m^T_{t-1,l}, h^D_{t,l-1}, m^D_{t,l-1})`` to the block's
  outputs in closed matrix form, each block a
  :class:`~symbolic.gridlstm.jacobian_claims.BlockJacobianClaim`, with each
  memory's own block described by what it holds
  (:mod:`symbolic.gridlstm.memory_paths`): ``diag(g^f)`` alone, a constant
  error carousel, or ``diag(g^f)`` plus terms through weights.  Blocks
  shown earlier stand in later formulas by name (:class:`PartialSymbol`).
"""

from __future__ import annotations

import functools

import sympy as sp

from ..activations import activation
from ..cells import Cell
from ..derivation import Derivation, Partial, Step
from ..jacobians import derivative
from ..printers import latex
from .description import differences
from .jacobian_claims import BlockJacobianClaim, priority_half
from .memory_paths import memory_path, memory_summary
from .sequence_models import COURSE_ANSWER, GridSequenceModel, grid_lstm_2d, resolve_options
from .transform import _GATE_ACTIVATION, GATE_ROLES, OUTPUT_FORMS

__all__ = [
    "PartialSymbol",
    "comparison_derivation",
    "equations_derivation",
    "grid_derivations",
    "jacobian_derivation",
]

_ROLE_WORDS = {
    "input": "input gate",
    "forget": "forget gate",
    "candidate": "candidate (cell input)",
    "output": "output gate",
}


def _gate_equation(model: GridSequenceModel, label: str, role: str) -> tuple[sp.Basic, sp.Basic]:
    block = model.block
    pre = block.preactivation(label, role)
    return block.gate(label, role), activation(_GATE_ACTIVATION[role])(block.cell.definitions[pre])


def _dimension_steps(model: GridSequenceModel, label: str) -> list[Step]:
    block, defs = model.block, model.cell.definitions
    dim = block.dimension(label)
    reads = ", ".join(latex(block.vector(*ref)) for ref in dict(block.reads)[label])
    steps = []
    for role in GATE_ROLES:
        gate, rhs = _gate_equation(model, label, role)
        pre = latex(block.preactivation(label, role))
        steps.append(
            Step(gate, ":=", rhs, f"{dim.name}: {_ROLE_WORDS[role]}; its argument is ${pre}$")
        )
    steps[0] = Step(
        steps[0].lhs, ":=", steps[0].rhs, steps[0].reason + f"; the gates read ${reads}$"
    )
    m_new, h_new = block.vector("m", label, "new"), block.vector("h", label, "new")
    steps.append(Step(m_new, ":=", defs[m_new], f"{dim.name}: memory, carried along ${dim.axis}$"))
    form = model.block.transform.output_form
    steps.append(Step(h_new, ":=", defs[h_new], f"{dim.name}: hidden vector, {form} output form"))
    return steps


@functools.lru_cache(maxsize=32)
def equations_derivation(
    variant: str = "paper", output_form: str | None = None, priority: str | None = None
) -> Derivation:
    """The complete equations of the 2D Grid LSTM at ``(t, l)``.

    Examples
    --------
    >>> from symbolic.printers import text
    >>> d = equations_derivation()
    >>> len(d.steps), text(d.steps[5].lhs), text(d.steps[5].rhs)
    (15, 'h^{T}_{t,l}', 'tanh(g^{o,T}_{t,l} ⊙ m^{T}_{t,l})')
    """
    model = grid_lstm_2d(variant, output_form, priority)
    steps = []
    for label in model.block.order:
        steps += _dimension_steps(model, label)
    for eq in model.boundary:
        steps.append(Step(eq.lhs, ":=", eq.rhs, "bottom of the depth dimension, for t = 1, ..., T"))
    steps.append(Step(model.output.lhs, ":=", model.output.rhs, "output, read at the top layer L"))
    order = " then ".join(model.block.dimension(x).name for x in model.block.order)
    intro = (
        f"{model.cell.title}: one block at grid point $(t, l)$, $t = 1, \\dots, T$ along time, "
        f"$l = 1, \\dots, L$ along depth, computed {order}. "
        "Each dimension has its own memory and weights; $\\sigma$ is the logistic sigmoid, "
        "$\\odot$ the elementwise product."
    )
    return Derivation(
        title=f"{model.cell.title}: the equations along time and depth",
        steps=tuple(steps),
        intro=intro,
        notes=model.notes,
    )


def _as_math(words: str) -> str:
    """Put the vector names in a computed phrase into inline math, for the renderers."""
    return " ".join(
        f"${w.replace('*', ' ').rstrip(',')}$" + ("," if w.endswith(",") else "")
        if ("_{" in w or "^{" in w)
        else w
        for w in words.split(" ")
    )


@functools.lru_cache(maxsize=32)
def comparison_derivation(output_form: str | None = None) -> Derivation:
    """The stacked reading beside the paper's: differing equations and the computed differences.

    ``output_form`` is the paper variant's (the stacked reading fixes its own).

    Examples
    --------
    >>> d = comparison_derivation()
    >>> len(d.notes), d.notes[-1]
    (8, 'bottom boundary $m^{D}_{t,0}$: 0 (paper) vs $P x_{t}$ (stacked reading)')
    """
    paper, stacked = grid_lstm_2d("paper", output_form), grid_lstm_2d("stacked")
    pair = ((paper, "paper"), (stacked, "stacked reading"))
    steps = []
    for label in ("T", "D"):
        name = paper.block.dimension(label).name
        for model, who in pair:
            gate, rhs = _gate_equation(model, label, "forget")
            steps.append(
                Step(gate, ":=", rhs, f"{who}: {name} forget gate (the other gates alike)")
            )
        for model, who in pair:
            h = model.block.vector("h", label, "new")
            steps.append(Step(h, ":=", model.cell.definitions[h], f"{who}: {name} hidden vector"))
    for model, who in pair:
        eq = model.boundary[1]
        steps.append(Step(eq.lhs, ":=", eq.rhs, f"{who}: depth memory at the bottom"))
    notes = tuple(
        f"{_as_math(diff.aspect)}: {_as_math(diff.left)} (paper) vs "
        f"{_as_math(diff.right)} (stacked reading)"
        for diff in differences(paper, stacked)
    )
    return Derivation(
        title="The stacked reading against the paper's Grid LSTM",
        steps=tuple(steps),
        intro=(
            "In the stacked reading the two LSTMs of a block are chained as in a stacked LSTM: "
            "the time LSTM reads the depth memory from below as its input, the depth LSTM reads "
            f"the time LSTM's new output; it is the reading of {COURSE_ANSWER}. In the paper's "
            "Grid LSTM both LSTMs read the same hidden vector "
            "$H = [h^{T}_{t-1,l}; h^{D}_{t,l-1}]$ (Kalchbrenner, Danihelka and Graves 2016, "
            "Sec. 3). Each pair shows the paper's equation, then the stacked reading's. The list "
            "below is computed from the two cell descriptions (which vectors each gate reads, "
            "which state travels along which axis, memory update, output form, biases, "
            "boundary), not written by hand."
        ),
        notes=notes,
    )


def _compact(expr: sp.Basic, shown: dict) -> sp.Basic:
    """Replace sub-expressions equal to blocks shown before by their names.

    A shown product may sit flattened at the end of a longer product
    (``W A B`` holds ``A B``), so trailing factors are matched too.
    """
    if expr in shown:
        return shown[expr]
    if isinstance(expr, sp.MatMul):
        args = list(expr.args)
        for key, name in shown.items():
            if isinstance(key, sp.MatMul) and len(key.args) < len(args):
                if tuple(args[-len(key.args) :]) == key.args:
                    args = args[: -len(key.args)] + [name]
                    break
        return sp.MatMul(*(_compact(a, shown) for a in args))
    if isinstance(expr, sp.MatAdd):
        return sp.MatAdd(*(_compact(a, shown) for a in expr.args))
    return expr


class PartialSymbol(sp.MatrixSymbol):
    """A Jacobian block shown above, standing in a longer formula by name.

    Printed as ``\\frac{\\partial out}{\\partial wrt}`` in LaTeX and
    ``(d out/d wrt)`` in text.  Only for display: the claim of the step holds
    the fully expanded formula, which is what gets checked.

    Examples
    --------
    >>> from symbolic.gridlstm.block import d
    >>> from symbolic.printers import text
    >>> m, h = sp.MatrixSymbol("m_{t}", d, 1), sp.MatrixSymbol("h_{t-1}", d, 1)
    >>> print(latex(PartialSymbol.of(m, h) * h))
    \\frac{\\partial m_{t}}{\\partial h_{t-1}} h_{t-1}
    >>> text(PartialSymbol.of(m, h))
    '(dm_{t}/dh_{t-1})'
    """

    @classmethod
    def of(cls, out: sp.MatrixSymbol, wrt: sp.MatrixSymbol) -> PartialSymbol:
        """The block ``d out / d wrt``."""
        return cls(f"{out.name}|{wrt.name}", out.shape[0], wrt.shape[0])

    def _parts(self) -> tuple[str, str]:
        out, wrt = self.name.split("|")
        return out, wrt

    def _latex(self, printer) -> str:
        out, wrt = self._parts()
        return rf"\frac{{\partial {out}}}{{\partial {wrt}}}"

    def _sympystr(self, printer) -> str:
        out, wrt = self._parts()
        return f"(d{out}/d{wrt})"


def _block_step(model: GridSequenceModel, out, wrt, reason: str, half: Cell | None) -> Step:
    cell = model.cell
    expr = derivative(out, wrt, cell.definitions)
    through = model.block.vector("h", "T", "new") if half is not None else None
    claim = BlockJacobianClaim(cell, out, wrt, expr, sizes=(2,), half=half, through=through)
    return Step(Partial(out, wrt), "=", expr, reason, claim)


@functools.lru_cache(maxsize=32)
def jacobian_derivation(
    variant: str = "paper", output_form: str | None = None, priority: str | None = None
) -> Derivation:
    """The block Jacobian along time and along depth, in closed matrix form.

    Examples
    --------
    >>> from symbolic.printers import text
    >>> d = jacobian_derivation()
    >>> [text(s.rhs) for s in d.steps if "carousel" in s.reason]
    ['diag(g^{f,T}_{t,l})', 'diag(g^{f,D}_{t,l})']
    """
    model = grid_lstm_2d(variant, output_form, priority)
    block = model.block
    half = priority_half(model) if block.priority else None
    words = {"h": "hidden", "m": "memory"}
    order = []
    for label, other in (("T", "D"), ("D", "T")):
        dim = block.dimension(label)
        for source, kind in ((label, "along"), (other, "across")):
            for base_out in ("m", "h"):
                for base_in in ("h", "m"):
                    order.append((dim, base_out, base_in, block.dimension(source), kind))
    steps, shown = [], {}
    for dim, base_out, base_in, source, kind in order:
        out = block.vector(base_out, dim.label, "new")
        wrt = block.vector(base_in, source.label, "in")
        if kind == "along":
            reason = f"along {dim.name}: {words[base_out]} from the incoming {words[base_in]}"
        else:
            reason = (
                f"across: {dim.name} {words[base_out]} from the incoming {source.name} "
                f"{words[base_in]}"
            )
        if kind == "along" and base_out == base_in == "m":
            reason = memory_path(model, dim.label).reason()
        step = _block_step(model, out, wrt, reason, half)
        compact = _compact(step.rhs, shown)
        if compact != step.rhs:
            step = Step(step.lhs, "=", compact, step.reason + "; with the blocks above", step.claim)
        steps.append(step)
        if isinstance(step.claim.expr, (sp.MatAdd, sp.MatMul)):
            shown[step.claim.expr] = PartialSymbol.of(out, wrt)
    notes = list(model.notes) + [
        "Numerator layout: $\\partial y / \\partial x$ has one row per entry of $y$; "
        "$\\sigma'(a) = \\sigma(a)(1 - \\sigma(a))$ and $\\tanh'(a) = 1 - \\tanh(a)^2$, "
        "elementwise.",
        "The block Jacobian is the 4 x 4 block matrix of these partials, rows "
        "$(h^{T}_{t,l}, m^{T}_{t,l}, h^{D}_{t,l}, m^{D}_{t,l})$, columns "
        "$(h^{T}_{t-1,l}, m^{T}_{t-1,l}, h^{D}_{t,l-1}, m^{D}_{t,l-1})$.",
    ]
    if half is not None:
        notes.append(
            "With depth priority every depth block passes through $h^{T}_{t,l}$, shown by name; "
            "the claims hold the expanded formulas and are checked exactly against the "
            "elementwise Jacobians composed through $h^{T}_{t,l}$."
        )
    paths = [memory_path(model, dim.label) for dim in block.dimensions if dim.has_memory]
    intro = " ".join(
        [
            f"{model.cell.title}, {OUTPUT_FORMS[model.block.transform.output_form]}.",
            "Gradients flow along time through $m^{T}$ and along depth through $m^{D}$.",
            memory_summary(paths),
        ]
    )
    return Derivation(
        title=f"{model.cell.title}: the block Jacobian along time and depth",
        steps=tuple(steps),
        intro=intro,
        notes=tuple(notes),
    )


def grid_derivations(
    variant: str = "paper", output_form: str | None = None, priority: str | None = None
) -> tuple[Derivation, ...]:
    """Everything ``gradproof derive gridlstm`` prints, in order.

    The equations, then (for the stacked reading) the comparison with the
    paper, then the block Jacobian.  Options as for
    :func:`~symbolic.gridlstm.sequence_models.grid_lstm_2d`; a conflicting
    combination raises a one-line ``ValueError``.

    Examples
    --------
    >>> [d.title.split(":")[0] for d in grid_derivations("stacked")]
    ['Stacked reading of the 2D Grid LSTM', "The stacked reading against the paper's Grid LSTM", 'Stacked reading of the 2D Grid LSTM']
    >>> grid_derivations("stacked", "paper")
    Traceback (most recent call last):
    ...
    ValueError: variant stacked uses output form standard; drop --output-form or choose variant paper
    """
    variant, output_form, priority = resolve_options(variant, output_form, priority)
    out = [equations_derivation(variant, output_form, priority)]
    if variant == "stacked":
        out.append(comparison_derivation())
    out.append(jacobian_derivation(variant, output_form, priority))
    return tuple(out)
