"""Cells the tests share: the four worked cells users see, and two input shapes.

The four of ``notebooks/own_cells.py`` are loaded through the registry, as a
user's ``file.py:function`` is; the other two exercise a cell with no input
and one with two.
"""

from pathlib import Path

from symbolic import CellBuilder, SigmaMax, StepBound, elementwise, family, hadamard

#: The worked cells' file, as the command line names it.
OWN = Path(__file__).resolve().parents[1] / "notebooks" / "own_cells.py"


def own(name):
    """One of the worked cells: indrnn, mgu, peephole_lstm, antisymmetric_rnn."""
    return family(f"{OWN}:{name}").cell()


def no_input_cell():
    """``h_t = tanh(W h_{t-1})``, with its step bound ``sigma_max(W)``."""
    cb = CellBuilder("autonomous")
    (n,) = cb.sizes("n")
    h, W = cb.state("h", n), cb.matrix("W", n, n)
    cb.update(h, elementwise("tanh", W * h))
    return cb.build(StepBound(SigmaMax(W), "tanh' <= 1", gamma=1, matrix=W))


def two_input_cell():
    """``h_t = tanh(W h + U x + (V y) ⊙ h)``: inputs ``x`` and ``y`` of different sizes."""
    cb = CellBuilder("two_inputs")
    n, m, k = cb.sizes("n", "m", "k")
    h, x, y = cb.state("h", n), cb.input("x", m), cb.input("y", k)
    W, U, V = cb.matrix("W", n, n), cb.matrix("U", n, m), cb.matrix("V", n, k)
    cb.update(h, elementwise("tanh", W * h + U * x + hadamard(V * y, h)))
    return cb.build()
