"""The literature gradproof cites, as BibTeX, and citations turned into ``\\cite``.

Derivations cite in words ("Pascanu, Mikolov and Bengio 2013, eqs. 3-5"), so
that plain text and Markdown read well on their own.  A LaTeX report adds a
reference list: :func:`bibtex` writes ``refs.bib`` and :func:`cite` puts a
``\\cite`` after each citation it recognises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["REFERENCES", "Reference", "bibtex", "cite"]


@dataclass(frozen=True)
class Reference:
    """One work: its BibTeX key and fields, and how derivations name it in words.

    ``named`` is a regular expression for the words before the year, e.g.
    ``Pascanu(,| et al\\.)`` matches "Pascanu, Mikolov and Bengio 2013" and
    "Pascanu et al. 2013".
    """

    key: str
    kind: str
    fields: tuple[tuple[str, str], ...]
    named: str
    year: str

    def entry(self) -> str:
        """The BibTeX entry."""
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in self.fields)
        return f"@{self.kind}{{{self.key},\n{body},\n  year = {{{self.year}}}\n}}\n"


REFERENCES: tuple[Reference, ...] = (
    Reference(
        "bengio1994",
        "article",
        (
            ("author", "Bengio, Yoshua and Simard, Patrice and Frasconi, Paolo"),
            ("title", "Learning long-term dependencies with gradient descent is difficult"),
            ("journal", "IEEE Transactions on Neural Networks"),
            ("volume", "5"),
            ("number", "2"),
            ("pages", "157--166"),
        ),
        r"Bengio,? (?:Simard and Frasconi|et al\.)",
        "1994",
    ),
    Reference(
        "hochreiter1997",
        "article",
        (
            ("author", 'Hochreiter, Sepp and Schmidhuber, J{\\"u}rgen'),
            ("title", "Long short-term memory"),
            ("journal", "Neural Computation"),
            ("volume", "9"),
            ("number", "8"),
            ("pages", "1735--1780"),
        ),
        r"Hochreiter (?:and|&) Schmidhuber",
        "1997",
    ),
    Reference(
        "gers2000",
        "article",
        (
            ("author", 'Gers, Felix A. and Schmidhuber, J{\\"u}rgen and Cummins, Fred'),
            ("title", "Learning to forget: continual prediction with {LSTM}"),
            ("journal", "Neural Computation"),
            ("volume", "12"),
            ("number", "10"),
            ("pages", "2451--2471"),
        ),
        r"Gers,? (?:Schmidhuber and Cummins|et al\.)",
        "2000",
    ),
    Reference(
        "gers2002",
        "article",
        (
            ("author", 'Gers, Felix A. and Schraudolph, Nicol N. and Schmidhuber, J{\\"u}rgen'),
            ("title", "Learning precise timing with {LSTM} recurrent networks"),
            ("journal", "Journal of Machine Learning Research"),
            ("volume", "3"),
            ("pages", "115--143"),
        ),
        r"Gers,? Schraudolph and Schmidhuber",
        "2002",
    ),
    Reference(
        "pascanu2013",
        "inproceedings",
        (
            ("author", "Pascanu, Razvan and Mikolov, Tomas and Bengio, Yoshua"),
            ("title", "On the difficulty of training recurrent neural networks"),
            ("booktitle", "Proceedings of the 30th International Conference on Machine Learning"),
            ("pages", "1310--1318"),
        ),
        r"Pascanu,? (?:Mikolov and Bengio|et al\.)",
        "2013",
    ),
    Reference(
        "cho2014",
        "inproceedings",
        (
            (
                "author",
                'Cho, Kyunghyun and van Merri{\\"e}nboer, Bart and Gulcehre, Caglar and '
                "Bahdanau, Dzmitry and Bougares, Fethi and Schwenk, Holger and Bengio, Yoshua",
            ),
            (
                "title",
                "Learning phrase representations using {RNN} encoder-decoder for statistical "
                "machine translation",
            ),
            ("booktitle", "Proceedings of EMNLP"),
            ("pages", "1724--1734"),
        ),
        r"Cho et al\.",
        "2014",
    ),
    Reference(
        "kalchbrenner2016",
        "inproceedings",
        (
            ("author", "Kalchbrenner, Nal and Danihelka, Ivo and Graves, Alex"),
            ("title", "Grid long short-term memory"),
            ("booktitle", "International Conference on Learning Representations"),
        ),
        r"Kalchbrenner,? (?:Danihelka and Graves|et al\.)",
        "2016",
    ),
)


def bibtex() -> str:
    """The contents of ``refs.bib``: every reference, in the order above.

    Examples
    --------
    >>> bibtex().count("@")
    7
    """
    return "\n".join(ref.entry() for ref in REFERENCES)


def cite(tex: str) -> str:
    """Add ``\\cite{key}`` after each citation in words that :data:`REFERENCES` knows.

    The words may hold a venue or a possessive between the names and the year
    ("Kalchbrenner, Danihelka and Graves, ICLR 2016").  Math (between ``$``
    signs) is left alone; a citation already followed by a ``\\cite`` is not
    cited twice.

    Examples
    --------
    >>> cite("as Pascanu, Mikolov and Bengio 2013, eqs. 3-5, show")
    'as Pascanu, Mikolov and Bengio 2013~\\\\cite{pascanu2013}, eqs. 3-5, show'
    >>> cite("(Kalchbrenner et al. 2016) and $x_{2016}$")
    '(Kalchbrenner et al. 2016~\\\\cite{kalchbrenner2016}) and $x_{2016}$'
    """
    parts = re.split(r"(\$[^$]*\$)", tex)
    for ref in REFERENCES:
        pattern = re.compile(rf"({ref.named}[^$();]{{0,12}}?\(?{ref.year})(?!~\\cite)")
        parts = [
            p if p.startswith("$") else pattern.sub(rf"\1~\\cite{{{ref.key}}}", p) for p in parts
        ]
    return "".join(parts)
