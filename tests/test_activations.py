import pytest
import sympy as sp

from symbolic.activations import ACTIVATIONS, Activation, activation, z


@pytest.mark.parametrize(
    ("name", "gamma"), [("tanh", 1), ("sigmoid", sp.Rational(1, 4)), ("relu", 1), ("identity", 1)]
)
def test_gamma_is_derived_for_each_registered_activation(name, gamma):
    assert activation(name).gamma == gamma


def test_gamma_of_a_user_lambda_is_derived_too():
    u = sp.Symbol("u")
    assert activation(sp.Lambda(u, sp.atan(u))).gamma == 1
    assert activation(sp.Lambda(u, 3 * sp.tanh(u))).gamma == 3


def test_derivatives_match_sympy_diff():
    for act in ACTIVATIONS.values():
        assert sp.simplify(act.derivative(z) - sp.diff(act.function(z), z)) == 0


def test_identity_survives_sympys_identity_function():
    # Lambda(z, z) becomes IdentityFunction with a dummy variable; the derivative must still be 1.
    assert activation("identity").derivative(z) == 1


def test_unknown_name_is_a_clear_error_and_text_is_never_parsed():
    with pytest.raises(ValueError, match="unknown activation 'tanh\\(x\\)'; choose one of"):
        activation("tanh(x)")


def test_activation_needs_a_one_variable_lambda():
    with pytest.raises(TypeError, match="one-variable"):
        Activation("bad", "b", sp.tanh(z))
