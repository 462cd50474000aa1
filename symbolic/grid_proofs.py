"""The answer to the seed's Q2: the 2D Grid LSTM's equations and Jacobians.

Three derivations, generated from the cell descriptions of
:mod:`symbolic.grid_lstm`:

* :func:`equations_derivation`: every gate, memory and hidden-state equation
  along time and along depth at grid point ``(t, l)``, the bottom boundary
  and the output;
* :func:`comparison_derivation`: the seed's stacked reading beside the
  paper's, with the differences computed from the two descriptions;
* :func:`jacobian_derivation`: the block Jacobian from
  ``(h^T_{t-1,l}, m^T_{t-1,l}, h^D_{t,l-1}, m^D_{t,l-1})`` to the block's
  outputs in closed matrix form, each block a :class:`JacobianClaim`, with
  the additive memory paths ``diag(g^{f,T})`` and ``diag(g^{f,D})`` (the
  constant error carousels) isolated.

With depth priority the depth LSTM reads the new ``h^T_{t,l}``; its blocks
are written as the chain rule through ``h^T_{t,l}``, and checked exactly by
:class:`PriorityJacobianClaim` (SymPy's elementwise Jacobian of the fully
inlined block takes minutes at size 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .activations import activation
from .cells import Cell
from .derivation import Derivation, JacobianClaim, Outcome, Partial, Step
from .explicit import exactly_equal, explicit
from .grid_lstm import (
    _GATE_ACTIVATION,
    GATE_ROLES,
    OUTPUT_FORMS,
    GridSequenceModel,
    differences,
    grid_lstm_2d,
)
from .jacobians import derivative
from .latex import latex, text

__all__ = [
    "PriorityJacobianClaim",
    "comparison_derivation",
    "equations_derivation",
    "grid_derivations",
    "jacobian_derivation",
    "priority_half",
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


def equations_derivation(
    variant: str = "paper", output_form: str | None = None, priority: str | None = None
) -> Derivation:
    """The complete equations of the 2D Grid LSTM at ``(t, l)``.

    Examples
    --------
    >>> d = equations_derivation()
    >>> len(d.steps), text(d.steps[5].lhs), text(d.steps[5].rhs)
    (15, 'h^{T}_{t,l}', 'tanh(g^{o,T}_{t,l} ⊙ m^{T}_{t,l})')
    """
    model = grid_lstm_2d(variant, output_form, priority)
    steps = []
    for label in model.block.order:
        steps += _dimension_steps(model, label)
    for eq in model.boundary:
        steps.append(Step(eq.lhs, ":=", eq.rhs, "bottom of the depth dimension (t = 1..T)"))
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


def comparison_derivation(output_form: str | None = None) -> Derivation:
    """The seed's reading beside the paper's: differing equations and the computed differences.

    Examples
    --------
    >>> d = comparison_derivation()
    >>> len(d.notes), d.notes[-1]
    (8, 'bottom boundary m^{D}_{t,0}: 0 (paper) vs P*x_{t} (seed)')
    """
    paper, seed = grid_lstm_2d("paper", output_form), grid_lstm_2d("seed")
    steps = []
    for label in ("T", "D"):
        name = paper.block.dimension(label).name
        for model, who in ((paper, "paper"), (seed, "seed")):
            gate, rhs = _gate_equation(model, label, "forget")
            steps.append(
                Step(gate, ":=", rhs, f"{who}: {name} forget gate (the other gates alike)")
            )
        for model, who in ((paper, "paper"), (seed, "seed")):
            h = model.block.vector("h", label, "new")
            steps.append(Step(h, ":=", model.cell.definitions[h], f"{who}: {name} hidden vector"))
    for model, who in ((paper, "paper"), (seed, "seed")):
        eq = model.boundary[1]
        steps.append(Step(eq.lhs, ":=", eq.rhs, f"{who}: depth memory at the bottom"))
    notes = tuple(
        f"{diff.aspect}: {diff.left} (paper) vs {diff.right} (seed)"
        for diff in differences(paper, seed)
    )
    return Derivation(
        title="The seed's stacked reading against the paper's Grid LSTM",
        steps=tuple(steps),
        intro=(
            "Each pair shows the paper's equation, then the seed's. The list below is computed "
            "from the two cell descriptions (which vectors each gate reads, which state travels "
            "along which axis, memory update, output form, biases, boundary), not written by hand."
        ),
        notes=notes,
    )


def priority_half(model: GridSequenceModel, label: str = "D") -> Cell:
    """The priority dimension alone, with the new hidden vectors it reads as free inputs.

    Its inputs are the new hidden vectors its gates read, its state its own
    incoming hidden vector and memory; used to state and check the chain
    rule through ``h^T_{t,l}``.

    Examples
    --------
    >>> half = priority_half(grid_lstm_2d(priority="depth"))
    >>> [str(s) for s in half.input_symbols + half.state_symbols]
    ['h^{T}_{t,l}', 'h^{D}_{t,l-1}', 'm^{D}_{t,l-1}']
    """
    block = model.block
    refs = dict(block.reads)[label]
    cell = block.cell
    index = {s: v for v in cell.state + cell.new_state for s in (v.symbol,)}
    free = [block.vector(*ref) for ref in refs if ref[2] == "new"]
    own_in = [block.vector("h", label, "in"), block.vector("m", label, "in")]
    outs = [block.vector("h", label, "new"), block.vector("m", label, "new")]
    own = {block.preactivation(label, r) for r in GATE_ROLES} | set(outs)
    own |= {block.gate(label, r) for r in GATE_ROLES}
    equations = tuple(eq for eq in cell.equations if eq.lhs in own)
    used = set().union(*(eq.rhs.free_symbols for eq in equations))
    return Cell(
        name=f"{cell.name}-{label}-half",
        title=f"{block.dimension(label).name} LSTM of the block",
        state=tuple(index[s] for s in own_in),
        new_state=tuple(index[s] for s in outs),
        inputs=tuple(index[s] for s in free),
        params=tuple(p for p in cell.params if p in used),
        equations=equations,
        intermediates=tuple(v for v in cell.intermediates if v.symbol in own),
        dims=cell.dims,
    )


@dataclass(frozen=True)
class PriorityJacobianClaim(JacobianClaim):
    """A block of a priority dimension's Jacobian, checked through the chain rule.

    Exactly: ``expr`` equals ``J_half(wrt) + J_half(through) J(through, wrt)``,
    where ``J_half`` is the elementwise Jacobian of the priority dimension with
    ``through`` (the new ``h^T_{t,l}``) a free vector and ``J(through, wrt)``
    the elementwise Jacobian of ``through``, both from SymPy's
    ``Matrix.jacobian``.  ``through`` stays a free symbol on both sides.
    Numerically (:mod:`numeric.verify`), like any :class:`JacobianClaim`:
    central differences of the whole block.
    """

    half: Cell | None = None
    through: sp.MatrixSymbol | None = None

    def check_exact(self) -> Outcome:
        full_defs = self.cell.definitions
        opaque = {k: v for k, v in full_defs.items() if k != self.through}
        for size in self.sizes:
            subs = {d: size for d in self.cell.dims}
            half = explicit(self.out, subs, self.half.definitions)

            def jac(f, v, subs=subs):
                return f.jacobian(list(sp.Matrix(v.xreplace(subs).as_explicit())))

            reference = jac(half, self.through) * jac(
                explicit(self.through, subs, full_defs), self.wrt
            )
            if self.wrt in self.half.state_symbols:
                reference += jac(half, self.wrt)
            if not exactly_equal(explicit(self.expr, subs, opaque), reference):
                return Outcome("exact", False, f"differs from the composed Jacobian at size {size}")
        through = text(self.through)
        return Outcome(
            "exact",
            True,
            f"equals the elementwise Jacobians composed through {through} at sizes "
            f"{', '.join(map(str, self.sizes))}",
        )


def _block_step(model: GridSequenceModel, out, wrt, reason: str, half: Cell | None) -> Step:
    cell = model.cell
    expr = derivative(out, wrt, cell.definitions)
    claim = JacobianClaim(cell, out, wrt, expr, sizes=(2,))
    through = model.block.vector("h", "T", "new")
    if half is not None and out in half.new_state_symbols:
        claim = PriorityJacobianClaim(cell, out, wrt, expr, sizes=(2,), half=half, through=through)
    return Step(Partial(out, wrt), "=", expr, reason, claim)


def jacobian_derivation(
    variant: str = "paper", output_form: str | None = None, priority: str | None = None
) -> Derivation:
    """The block Jacobian along time and along depth, in closed matrix form.

    Examples
    --------
    >>> d = jacobian_derivation()
    >>> [text(s.rhs) for s in d.steps if "carousel" in s.reason]
    ['diag(g^{f,T}_{t,l})', 'diag(g^{f,D}_{t,l})']
    """
    model = grid_lstm_2d(variant, output_form, priority)
    block = model.block
    half = priority_half(model) if block.priority else None
    steps = []
    words = {"h": "hidden", "m": "memory"}
    for along, label in (("time", "T"), ("depth", "D")):
        axis = block.dimension(label).axis
        for base_out in ("m", "h"):
            out = block.vector(base_out, label, "new")
            for base_in in ("h", "m"):
                wrt = block.vector(base_in, label, "in")
                reason = f"along {along}: {words[base_out]} from the incoming {words[base_in]}"
                if base_out == base_in == "m":
                    f = latex(block.gate(label, "forget"))
                    reason = (
                        f"along {along}: the constant error carousel, the additive memory path "
                        f"$\\operatorname{{diag}}({f})$ along ${axis}$ (no weight matrix, no "
                        "squashing; the identity when the forget gate is open)"
                    )
                steps.append(_block_step(model, out, wrt, reason, half))
    for label, other in (("T", "D"), ("D", "T")):
        for base_out in ("m", "h"):
            out = block.vector(base_out, label, "new")
            for base_in in ("h", "m"):
                wrt = block.vector(base_in, other, "in")
                name, other_name = block.dimension(label).name, block.dimension(other).name
                reason = (
                    f"across: {name} {words[base_out]} from the incoming {other_name} "
                    f"{words[base_in]}"
                )
                steps.append(_block_step(model, out, wrt, reason, half))
    notes = list(model.notes) + [
        "Numerator layout: d(out)/d(in) has one row per entry of out. "
        "sigma'(a) = sigma(a)(1 - sigma(a)) and tanh'(a) = 1 - tanh(a)^2, elementwise.",
        "The block Jacobian is the 4 x 4 block matrix of these partials, rows "
        "(h^T_{t,l}, m^T_{t,l}, h^D_{t,l}, m^D_{t,l}), columns "
        "(h^T_{t-1,l}, m^T_{t-1,l}, h^D_{t,l-1}, m^D_{t,l-1}).",
    ]
    if half is not None:
        notes.append(
            "With depth priority every depth block passes through h^T_{t,l}; "
            "the formulas expand that chain rule. Exact check: against the elementwise Jacobians "
            "composed through h^T_{t,l}."
        )
    mem = [latex(block.gate(x, "forget")) for x in ("T", "D")]
    intro = (
        f"{model.cell.title}, {OUTPUT_FORMS[model.block.transform.output_form]}. "
        "Gradients flow along time through $m^{T}$ and along depth through $m^{D}$; "
        f"each memory's own block is $\\operatorname{{diag}}({mem[0]})$ or "
        f"$\\operatorname{{diag}}({mem[1]})$, "
        "so where the forget gates stay near 1 the error passes unattenuated in both directions."
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

    The equations, then (for the seed variant) the comparison with the
    paper, then the block Jacobian.

    Examples
    --------
    >>> [d.title.split(":")[0] for d in grid_derivations("seed")]  # doctest: +NORMALIZE_WHITESPACE
    ["2D Grid LSTM, seed's stacked reading", "The seed's stacked reading against the paper's Grid
    LSTM", "2D Grid LSTM, seed's stacked reading"]
    """
    out = [equations_derivation(variant, output_form, priority)]
    if variant == "seed":
        out.append(comparison_derivation())
    out.append(jacobian_derivation(variant, output_form, priority))
    return tuple(out)
