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
  outputs in closed matrix form, each block a :class:`BlockJacobianClaim`
  (a :class:`~symbolic.derivation.JacobianClaim`), with the additive memory
  paths ``diag(g^{f,T})`` and ``diag(g^{f,D})`` (the constant error
  carousels) isolated.

With depth priority the depth LSTM reads the new ``h^T_{t,l}``; its blocks
are checked exactly against the elementwise Jacobians composed through
``h^T_{t,l}`` (SymPy's elementwise Jacobian of the fully inlined block takes
minutes at size 2).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import DiagMatrix, HadamardProduct
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .activations import activation
from .cells import Cell
from .derivation import Derivation, JacobianClaim, Outcome, Partial, Step
from .explicit import exactly_equal
from .grid_lstm import (
    _GATE_ACTIVATION,
    GATE_ROLES,
    OUTPUT_FORMS,
    GridSequenceModel,
    differences,
    grid_lstm_2d,
)
from .jacobians import derivative, step_jacobian_blocks
from .latex import latex, text

__all__ = [
    "BlockJacobianClaim",
    "PartialSymbol",
    "block_mismatches",
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


@functools.lru_cache(maxsize=32)
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
    """The seed's reading beside the paper's: differing equations and the computed differences.

    Examples
    --------
    >>> d = comparison_derivation()
    >>> len(d.notes), d.notes[-1]
    (8, 'bottom boundary $m^{D}_{t,0}$: 0 (paper) vs $P x_{t}$ (seed)')
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
        f"{_as_math(diff.aspect)}: {_as_math(diff.left)} (paper) vs {_as_math(diff.right)} (seed)"
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


def _entrywise(expr: sp.Basic, sizes: dict, definitions: dict, cache: dict) -> sp.ImmutableMatrix:
    """``expr`` as an explicit matrix, evaluated node by node with explicit operands.

    Named vectors are inlined from ``definitions``; other symbols become their
    entries.  Equal to :func:`symbolic.explicit.explicit`, without building
    ``as_explicit`` of whole products (which costs tens of seconds here).
    """
    if expr in cache:
        return cache[expr]
    args = [
        _entrywise(a, sizes, definitions, cache) for a in expr.args if isinstance(a, sp.MatrixExpr)
    ]
    if isinstance(expr, sp.MatrixSymbol):
        if expr in definitions:
            out = _entrywise(definitions[expr], sizes, definitions, cache)
        else:
            out = sp.ImmutableMatrix(expr.xreplace(sizes).as_explicit())
    elif isinstance(expr, sp.MatMul):
        scalar = sp.Mul(*(a for a in expr.args if not isinstance(a, sp.MatrixExpr)))
        out = functools.reduce(lambda x, y: x * y, args) * scalar
    elif isinstance(expr, sp.MatAdd):
        out = functools.reduce(lambda x, y: x + y, args)
    elif isinstance(expr, HadamardProduct):
        out = functools.reduce(lambda x, y: x.multiply_elementwise(y), args)
    elif isinstance(expr, DiagMatrix):
        out = sp.diag(*args[0])
    elif isinstance(expr, ElementwiseApplyFunction):
        out = args[0].applyfunc(expr.function)
    elif isinstance(expr, (sp.Identity, sp.ZeroMatrix)):
        out = expr.xreplace(sizes).as_explicit()
    else:
        raise TypeError(f"no entrywise rule for {type(expr).__name__}")
    cache[expr] = sp.ImmutableMatrix(out)
    return cache[expr]


def _atoms_as_symbols(*matrices: sp.MatrixBase) -> list[sp.MatrixBase]:
    """Replace every ``exp(...)`` and ``tanh(...)`` by a symbol, the same on all sides.

    A substitution preserves identities, so equality afterwards proves
    equality before; it spares ``expand`` from splitting ``exp`` of sums.
    """
    atoms = set().union(*(m.atoms(sp.exp, sp.tanh) for m in matrices))
    ordered = sorted(atoms, key=sp.default_sort_key)
    rep = {a: sp.Symbol(f"atom{i}") for i, a in enumerate(ordered)}
    return [m.xreplace(rep) for m in matrices]


def _jacobian(f: sp.MatrixBase, v: sp.MatrixSymbol, subs: dict) -> sp.MatrixBase:
    return f.jacobian(list(sp.Matrix(v.xreplace(subs).as_explicit())))


@dataclass(frozen=True)
class BlockJacobianClaim(JacobianClaim):
    """A block of the Grid LSTM's Jacobian, checked exactly against SymPy's elementwise one.

    Without ``through``: ``expr`` equals ``Matrix.jacobian`` of the block's
    output with every named vector inlined, as :class:`JacobianClaim`
    checks, with a faster entrywise expansion (:func:`_entrywise`).  With
    ``through`` (the new ``h^T_{t,l}`` a priority dimension reads):
    ``expr`` equals ``J_half(wrt) + J_half(through) J(through, wrt)``, where
    ``J_half`` is the elementwise Jacobian of the priority dimension alone
    (``half``, with ``through`` a free vector) and ``J(through, wrt)`` that
    of ``through``; ``through`` stays a free symbol on both sides.  Inlining
    it instead makes SymPy's Jacobian take minutes at size 2.  Numerically
    (:mod:`numeric.verify`), like any :class:`JacobianClaim`: central
    differences of the whole block.
    """

    half: Cell | None = None
    through: sp.MatrixSymbol | None = None

    def check_exact(self) -> Outcome:
        full_defs = self.cell.definitions
        composed = self.through is not None and self.out in self.half.new_state_symbols
        defs = {k: v for k, v in full_defs.items() if not (composed and k == self.through)}
        for size in self.sizes:
            subs = {d: size for d in self.cell.dims}
            cache: dict = {}
            if composed:
                half = _entrywise(self.out, subs, self.half.definitions, {})
                through = _entrywise(self.through, subs, full_defs, {})
                reference = _jacobian(half, self.through, subs) * _jacobian(through, self.wrt, subs)
                if self.wrt in self.half.state_symbols:
                    reference += _jacobian(half, self.wrt, subs)
            else:
                reference = _jacobian(_entrywise(self.out, subs, defs, cache), self.wrt, subs)
            claimed = _entrywise(self.expr, subs, defs, cache)
            if not exactly_equal(*_atoms_as_symbols(claimed, reference)):
                return Outcome(
                    "exact", False, f"differs from the elementwise Jacobian at size {size}"
                )
        how = f", composed through {text(self.through)}" if composed else ""
        sizes = ", ".join(map(str, self.sizes))
        return Outcome("exact", True, f"equals the elementwise Jacobian{how} at sizes {sizes}")


def block_mismatches(model: GridSequenceModel, blocks=None, size: int = 2) -> list[tuple[int, int]]:
    """Blocks ``(i, j)`` of the block Jacobian that differ from the elementwise ones.

    Like :func:`symbolic.explicit.jacobian_mismatches`, through
    :class:`BlockJacobianClaim` (composed through ``h^T_{t,l}`` under
    priority).  ``blocks`` defaults to the structured ones.

    Examples
    --------
    >>> block_mismatches(grid_lstm_2d(output_form="standard"))
    []
    """
    cell = model.cell
    blocks = step_jacobian_blocks(cell) if blocks is None else blocks
    half = priority_half(model) if model.block.priority else None
    through = model.block.vector("h", "T", "new") if half is not None else None
    wrong = []
    for i, out in enumerate(cell.new_state_symbols):
        for j, wrt in enumerate(cell.state_symbols):
            claim = BlockJacobianClaim(
                cell, out, wrt, blocks[i][j], sizes=(size,), half=half, through=through
            )
            if not claim.check_exact().passed:
                wrong.append((i, j))
    return wrong


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
    >>> from symbolic.grid_lstm import d
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
            f = latex(block.gate(dim.label, "forget"))
            reason = (
                f"along {dim.name}: the constant error carousel, the additive memory path "
                f"$\\operatorname{{diag}}({f})$ along ${dim.axis}$ (no weight matrix, no "
                "squashing; the identity when the forget gate is open)"
            )
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
