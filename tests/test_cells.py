import pytest
import sympy as sp

from symbolic.cells import Cell, Equation, TimedVector
from symbolic.rnn import elman_rnn


def test_cells_are_hashable_and_equal_by_value():
    assert elman_rnn("tanh") == elman_rnn("tanh")
    assert hash(elman_rnn("tanh")) == hash(elman_rnn("tanh"))
    assert elman_rnn("tanh") != elman_rnn("relu")


def test_reindexing_moves_every_timed_vector():
    rnn = elman_rnn()
    shift = rnn.at(7)
    assert {str(k): str(v) for k, v in shift.items()} == {
        "h_{t-1}": "h_{6}",
        "h_{t}": "h_{7}",
        "x_{t}": "x_{7}",
        "a_{t}": "a_{7}",
    }


def test_unknown_size_names_are_rejected():
    with pytest.raises(ValueError, match="no size"):
        elman_rnn().with_sizes(q=3)


def test_a_cell_must_define_its_new_state():
    n = sp.Symbol("n", integer=True, positive=True)
    h_prev, h = TimedVector("h", n, -1), TimedVector("h", n, 0)
    with pytest.raises(ValueError, match="no equation"):
        Cell("c", "c", (h_prev,), (h,), (), (), ())


def test_equations_may_only_use_known_symbols():
    n = sp.Symbol("n", integer=True, positive=True)
    h_prev, h = TimedVector("h", n, -1), TimedVector("h", n, 0)
    stray = sp.MatrixSymbol("V", n, n)
    with pytest.raises(ValueError, match="undefined V"):
        Cell(
            "c",
            "c",
            (h_prev,),
            (h,),
            (),
            (),
            (Equation(h.symbol, stray * h_prev.symbol),),
            dims=(n,),
        )


def test_equation_shapes_must_agree():
    n = sp.Symbol("n", integer=True, positive=True)
    with pytest.raises(ValueError, match="shape"):
        Equation(sp.MatrixSymbol("h", n, 1), sp.MatrixSymbol("W", n, n))
