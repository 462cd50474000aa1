"""``CellBuilder``: any cell in a few declarations; every mistake one ValueError."""

import pytest
import sympy as sp

from symbolic import Cell, CellBuilder, elementwise, hadamard
from symbolic.cells import Equation, TimedVector
from symbolic.jacobians import step_jacobian_blocks


def test_builder_makes_the_cell_the_constructor_makes():
    cb = CellBuilder("rnn", "Elman RNN (tanh)")
    n, m = cb.sizes("n", "m")
    h, x = cb.state("h", n), cb.input("x", m)
    W, U, b = cb.matrix("W", n, n), cb.matrix("U", n, m), cb.vector("b", n)
    a = cb.define("a", W * h + U * x + b)
    cb.update(h, elementwise("tanh", a))
    from symbolic.rnn import elman_rnn

    reference = elman_rnn("tanh")
    built = cb.build(reference.bound)
    assert built == reference and hash(built) == hash(reference)


def test_scalars_ones_transposes_and_functions_sympy_can_differentiate():
    cb = CellBuilder("mixed")
    (n,) = cb.sizes("n")
    h = cb.state("h", n)
    W, eps = cb.matrix("W", n, n), cb.scalar("epsilon")
    a = cb.define("a", (W - W.T) * h)
    cb.update(h, hadamard(sp.OneMatrix(n, 1) - h, elementwise(sp.atan, a)) * eps)
    cell = cb.build()
    assert cell.params == (W, eps) and eps.is_positive
    ((block,),) = step_jacobian_blocks(cell)
    assert block.has(eps) and block.has(W.T)


def test_a_cell_built_from_lists_is_hashable_and_equal_to_tuples():
    n = sp.Symbol("n", integer=True, positive=True)
    h_prev, h = TimedVector("h", n, -1), TimedVector("h", n, 0)
    W = sp.MatrixSymbol("W", n, n)
    eqs = [Equation(h.symbol, W * h_prev.symbol)]
    as_lists = Cell("lin", "lin", [h_prev], [h], [], [W], eqs, dims=[n])
    as_tuples = Cell("lin", "lin", (h_prev,), (h,), (), (W,), tuple(eqs), dims=(n,))
    assert as_lists == as_tuples and hash(as_lists) == hash(as_tuples)


def _rnn_builder():
    cb = CellBuilder("bad")
    n, m = cb.sizes("n", "m")
    return cb, n, m, cb.state("h", n), cb.input("x", m)


def test_a_state_without_an_update_is_named():
    cb, n, m, h, x = _rnn_builder()
    with pytest.raises(ValueError, match="state h has no update"):
        cb.build()


def test_an_undefined_symbol_is_named_with_its_equation():
    cb, n, m, h, x = _rnn_builder()
    ghost = sp.MatrixSymbol("V", n, n)
    cb.update(h, ghost * h)
    with pytest.raises(ValueError, match=r"equation for h_\{t\} uses undefined V"):
        cb.build()


def test_an_undefined_scalar_is_named():
    cb, n, m, h, x = _rnn_builder()
    cb.update(h, sp.Symbol("alpha") * h)
    with pytest.raises(ValueError, match=r"equation for h_\{t\} uses undefined alpha"):
        cb.build()


def test_a_parameter_used_with_two_shapes_is_named():
    cb, n, m, h, x = _rnn_builder()
    cb.matrix("W", n, n)
    cb.update(h, elementwise("tanh", sp.MatrixSymbol("W", n, m) * x))
    with pytest.raises(ValueError, match=r"equation for h_\{t\} uses W with shape \(n, m\)"):
        cb.build()


def test_an_update_of_the_wrong_shape_is_named():
    cb, n, m, h, x = _rnn_builder()
    with pytest.raises(ValueError, match=r"equation for h_\{t\} has right-hand side of shape"):
        cb.update(h, x)


def test_names_are_declared_once_and_updates_given_once():
    cb, n, m, h, x = _rnn_builder()
    with pytest.raises(ValueError, match="'h' is declared twice"):
        cb.vector("h", n)
    cb.update(h, h)
    with pytest.raises(ValueError, match="state h has two updates"):
        cb.update("h", h)
    with pytest.raises(ValueError, match="x is not a declared state"):
        cb.update("x", h)
