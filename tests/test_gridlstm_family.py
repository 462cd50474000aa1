"""The Grid LSTM's registry entry: variants by their explained names, the old name accepted."""

from __future__ import annotations

import dataclasses

import pytest

from numeric.cli import main
from symbolic.gridlstm import FAMILY, VARIANT_READINGS, grid_derivations
from symbolic.latex import render
from symbolic.registry import family

COMBINATIONS = [
    {"variant": "paper"},
    {"variant": "paper", "output_form": "standard"},
    {"variant": "paper", "priority": "depth"},
    {"variant": "stacked"},
    {"variant": "seed"},
]


def test_the_variants_listed_are_explained_names():
    fam = family("gridlstm")
    assert list(fam.options["variant"]) == ["paper", "stacked"]
    with pytest.raises(ValueError) as err:
        fam.resolve({"variant": "nope"})
    assert "choose one of paper, stacked" in str(err.value) and "seed" not in str(err.value)
    for reading in VARIANT_READINGS.values():
        assert "Kalchbrenner, Danihelka and Graves 2016" in reading or "(2016, Sec. 3)" in reading
    assert "as in a stacked" in VARIANT_READINGS["stacked"]
    assert "course answer" in VARIANT_READINGS["stacked"]


def test_seed_is_still_accepted_as_the_stacked_reading():
    assert FAMILY.resolve({"variant": "seed"}) == {
        "variant": "seed",
        "output_form": None,
        "priority": None,
    }
    assert FAMILY.derive(variant="seed") == FAMILY.derive(variant="stacked")
    assert FAMILY.cell(variant="seed") == FAMILY.cell(variant="stacked")


@pytest.mark.parametrize("options", COMBINATIONS, ids=lambda o: "-".join(o.values()))
def test_no_rendering_calls_anything_seed(options):
    for derivation in grid_derivations(**options):
        for fmt in ("latex", "markdown", "text"):
            assert "seed" not in render(derivation, fmt).lower(), (derivation.title, fmt)
    # teeth: a rendering with the old wording is caught
    old = dataclasses.replace(derivation, notes=(*derivation.notes, "Seed variant (stacked)"))
    assert "seed" in render(old, "text").lower()


@pytest.mark.parametrize("variant", ["stacked", "seed"])
def test_cli_refuses_a_conflicting_output_form_in_one_line(variant, capsys):
    code = main(["derive", "gridlstm", "--variant", variant, "--output-form", "paper"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "gradproof: error: variant stacked uses output form standard; drop --output-form or "
        "choose variant paper\n"
    )
    # the variant's own output form, given explicitly, is accepted
    assert main(["derive", "gridlstm", "--variant", variant, "--output-form", "standard"]) == 0
    assert "g^{o,T}_{t,l} ⊙ tanh(m^{T}_{t,l})" in capsys.readouterr().out
