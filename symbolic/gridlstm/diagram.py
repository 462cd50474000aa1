"""One block of the 2D Grid LSTM drawn in TikZ, its labels printed from the block's vectors."""

from __future__ import annotations

from ..printers import latex
from .sequence_models import grid_lstm_2d

__all__ = ["block_tikz"]


def block_tikz() -> str:
    """A ``tikzpicture`` of one block of the paper's 2D Grid LSTM (needs ``\\usepackage{tikz}``).

    The hidden vectors entering along time and depth are concatenated into
    the shared ``H``; the time LSTM and the depth LSTM each read ``H`` and
    their own incoming memory and send their outputs on along their axis
    (Kalchbrenner, Danihelka and Graves 2016, Sec. 3).

    Examples
    --------
    >>> tikz = block_tikz()
    >>> tikz.startswith("\\\\begin{tikzpicture}"), "m^{D}_{t,l-1}" in tikz
    (True, True)
    """
    block = grid_lstm_2d().block

    def v(kind: str, label: str, where: str) -> str:
        return latex(block.vector(kind, label, where))

    return "\n".join(
        [
            r"\begin{tikzpicture}[>=stealth, thick, font=\small,",
            r"  box/.style={draw, rounded corners, align=center, inner sep=5pt}]",
            rf"\node[box] (H) at (0,0) {{$H = \begin{{bmatrix}} {v('h', 'T', 'in')} \\"
            rf" {v('h', 'D', 'in')} \end{{bmatrix}}$}};",
            r"\node[box] (T) at (4.6,1.3) {time LSTM\\ weights $W^{T}_{l}$};",
            r"\node[box] (D) at (4.6,-1.3) {depth LSTM\\ weights $W^{D}_{l}$};",
            rf"\node (hT) at (-3.6,0.45) {{${v('h', 'T', 'in')}$}};",
            rf"\node (hD) at (-3.6,-0.45) {{${v('h', 'D', 'in')}$}};",
            r"\draw[->] (hT) -- (H.west |- hT);",
            r"\draw[->] (hD) -- (H.west |- hD);",
            r"\draw[->] (H.east) -- (T.west);",
            r"\draw[->] (H.east) -- (D.west);",
            rf"\node (mT) at (4.6,3.0) {{${v('m', 'T', 'in')}$ (from step $t-1$)}};",
            rf"\node (mD) at (4.6,-3.0) {{${v('m', 'D', 'in')}$ (from layer $l-1$)}};",
            r"\draw[->] (mT) -- (T);",
            r"\draw[->] (mD) -- (D);",
            rf"\node[align=left, anchor=west] (oT) at (7.4,1.3) "
            rf"{{${v('h', 'T', 'new')}$, ${v('m', 'T', 'new')}$\\ to step $t+1$}};",
            rf"\node[align=left, anchor=west] (oD) at (7.4,-1.3) "
            rf"{{${v('h', 'D', 'new')}$, ${v('m', 'D', 'new')}$\\ to layer $l+1$}};",
            r"\draw[->] (T) -- (oT);",
            r"\draw[->] (D) -- (oD);",
            r"\end{tikzpicture}",
        ]
    )
