"""The activation-function space: size, op definitions, numerical safety, formulas, networks."""

import math

import numpy as np
import pytest
import torch

from hnas.grammar import load_space
from hnas.semantics import SemanticsError, compile_tree, count_parameters
from hnas.semantics.activation import BINARY_OPS, UNARY_OPS, Activation, activation_formula, activation_network

EXTREMES = [0.0, 1.0, -1.0, 1e4, -1e4, 1e-8, -1e-8, 0.5, 1 - 1e-7, 30.0, -30.0, 1e6, -1e6, 1e12, 3e38, -3e38]


@pytest.fixture(scope="module")
def space():
    return load_space("activation")


def _unary(op):
    return f"(L2 UnaryTopo (L1 UnaryTopo (UnOp {op})))"


def _binary(op, a="id", b="sigmoid"):
    return f"(L2 UnaryTopo (L1 BinaryTopo (BinOp {op}) (UnOp {a}) (UnOp {b}) id id))"


def test_size_is_counted_exactly(space):
    level1 = 10 * 25 * 25 + 25  # BinaryTopo over two unary ops, or UnaryTopo over one
    assert space.count() == 10 * level1 * level1 + level1 == 393_762_525


def test_the_grammar_has_the_papers_25_unary_and_10_binary_operations(space):
    unary = {p.op for p in space.grammar.rules["UnOp"]}
    binary = {p.op for p in space.grammar.rules["BinOp"]}
    assert unary == set(UNARY_OPS) and len(unary) == 25
    assert binary == set(BINARY_OPS) and len(binary) == 10


X = np.linspace(-2.5, 2.5, 41)
SIG = 1 / (1 + np.exp(-X))
REFERENCE_UNARY = {
    "id": X, "neg": -X, "abs": np.abs(X), "square": X**2, "cubic": X**3, "square_root": np.sqrt(np.abs(X) + 1e-6),
    "mconst": X, "aconst": X + 1, "log": np.log(np.abs(X) + 1e-6), "exp": np.exp(X), "sin": np.sin(X),
    "cos": np.cos(X), "sinh": np.sinh(X), "cosh": np.cosh(X), "tanh": np.tanh(X), "asinh": np.arcsinh(X),
    "atanh": np.arctanh(np.clip(X, -1 + 1e-6, 1 - 1e-6)), "sinc": np.sinc(X), "umax": np.maximum(X, 0),
    "umin": np.minimum(X, 0), "sigmoid": SIG, "logexp": np.log1p(np.exp(X)), "gaussian": np.exp(-X**2),
    "erf": np.array([math.erf(v) for v in X]), "const": np.ones_like(X),
}  # constants are initialised to 1


@pytest.mark.parametrize("op", sorted(REFERENCE_UNARY))
def test_unary_operations_compute_their_definition(space, op):
    module = compile_tree(space.parse(_unary(op)))
    got = module(torch.tensor(X, dtype=torch.float64)).detach().numpy()  # the operations follow the dtype
    np.testing.assert_allclose(got, REFERENCE_UNARY[op], rtol=1e-6, atol=1e-6)


REFERENCE_BINARY = {  # a = x, b = sigmoid(x)
    "add": X + SIG, "multi": X * SIG, "sub": X - SIG, "div": X / (SIG + 1e-6), "bmax": np.maximum(X, SIG),
    "bmin": np.minimum(X, SIG), "bsigmoid": SIG * SIG, "bgaussian_sq": np.exp(-((X - SIG) ** 2)),
    "bgaussian_abs": np.exp(-np.abs(X - SIG)), "wavg": X,
}


@pytest.mark.parametrize("op", sorted(REFERENCE_BINARY))
def test_binary_operations_compute_their_definition(space, op):
    module = compile_tree(space.parse(_binary(op)))
    got = module(torch.tensor(X, dtype=torch.float64)).detach().numpy()
    np.testing.assert_allclose(got, REFERENCE_BINARY[op], rtol=1e-6, atol=1e-6)


def test_division_keeps_the_sign_of_a_tiny_denominator(space):
    module = compile_tree(space.parse(_binary("div", "const", "id")))  # 1 / x
    got = module(torch.tensor([0.0, 1e-9, -1e-9, -2.0])).tolist()
    assert got[0] == pytest.approx(1e6) and got[1] == pytest.approx(1 / (1e-9 + 1e-6), rel=1e-5)
    assert got[2] == pytest.approx(-1 / (1e-9 + 1e-6), rel=1e-5) and got[3] == pytest.approx(-0.5, rel=1e-5)


def _finite_everywhere(module):
    x = torch.tensor(EXTREMES, requires_grad=True)
    y = module(x)
    y.sum().backward()
    grads = [x.grad] + [p.grad for p in module.parameters()]
    return bool(torch.isfinite(y).all()) and all(g is None or bool(torch.isfinite(g).all()) for g in grads)


@pytest.mark.parametrize("op", sorted(UNARY_OPS))
def test_every_unary_operation_is_finite_forward_and_backward_on_extreme_inputs(space, op):
    assert _finite_everywhere(compile_tree(space.parse(_unary(op))))


@pytest.mark.parametrize("op", sorted(BINARY_OPS))
def test_every_binary_operation_is_finite_on_all_pairs_of_extreme_inputs(op):
    a, b = (t.reshape(-1).clone().requires_grad_(True) for t in torch.meshgrid(
        torch.tensor(EXTREMES), torch.tensor(EXTREMES), indexing="ij"))
    c = torch.ones((), requires_grad=True)
    y = BINARY_OPS[op].fn(a, b, c)
    y.sum().backward()
    assert all(bool(torch.isfinite(t).all()) for t in (y, a.grad, b.grad, c.grad if c.grad is not None else y))


def test_sampled_and_adversarial_activations_are_finite_on_extreme_inputs(space):
    rng = np.random.default_rng(0)
    trees = [space.sample(rng) for _ in range(300)]
    nasty = ["div", "multi", "bgaussian_sq", "wavg"]
    for outer in nasty:  # growing operations nested under division and products
        for inner_a, inner_b in (("cubic", "exp"), ("cosh", "const"), ("log", "square_root"), ("atanh", "sinh")):
            inner = f"(L1 BinaryTopo (BinOp div) (UnOp {inner_a}) (UnOp {inner_b}) id id)"
            trees.append(space.parse(f"(L2 BinaryTopo (BinOp {outer}) {inner} {inner} id id)"))
    for tree in trees:
        assert _finite_everywhere(compile_tree(tree)), str(tree)


def test_formula_is_readable(space):
    tree = space.parse(
        "(L2 BinaryTopo (BinOp multi) (L1 BinaryTopo (BinOp bmax) (UnOp id) (UnOp sigmoid) id id) "
        "(L1 UnaryTopo (UnOp tanh)) id id)"
    )
    assert activation_formula(tree) == "max(x, sigmoid(x)) * tanh(x)"
    assert compile_tree(tree).formula == "max(x, sigmoid(x)) * tanh(x)"
    swish = space.parse("(L2 UnaryTopo (L1 BinaryTopo (BinOp bsigmoid) (UnOp mconst) (UnOp id) id id))")
    assert activation_formula(swish) == "sigmoid(c0*x) * x"
    nested = space.parse(
        "(L2 BinaryTopo (BinOp sub) (L1 UnaryTopo (UnOp neg)) (L1 BinaryTopo (BinOp add) (UnOp square) (UnOp aconst) id id) id id)"
    )
    assert activation_formula(nested) == "-x - (x^2 + x + c0)"


class _SafeDivision(np.ndarray):
    """Arrays whose division is the space's: a / (b + sign(b) 1e-6), sign(0) = +1."""

    def __truediv__(self, other):
        return (np.asarray(self) / _shifted(other)).view(_SafeDivision)

    def __rtruediv__(self, other):
        return (np.asarray(other) / _shifted(self)).view(_SafeDivision)


def _shifted(b):
    b = np.asarray(b, dtype=float)
    return b + np.where(b >= 0, 1e-6, -1e-6)


def test_formulas_evaluate_to_the_compiled_functions(space):
    """The printed formula, evaluated by Python (``^`` as ``**``, constants 1), is the module's
    function: checks every operation's printing and the parentheses."""
    x = np.array([-2.63, -2.21, -1.73, -1.37, -0.83, -0.47, -0.19, 0.23, 0.61, 0.77, 1.29, 1.58, 2.37, 2.71])
    names = {
        "abs": np.abs, "sqrt": lambda v: np.sqrt(v + 1e-6), "log": lambda v: np.log(v + 1e-6), "exp": np.exp,
        "sin": np.sin, "cos": np.cos, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh,
        "atanh": lambda v: np.arctanh(np.clip(v, -1 + 1e-6, 1 - 1e-6)), "sinc": np.sinc, "max": np.maximum,
        "min": np.minimum, "sigmoid": lambda v: 1 / (1 + np.exp(-np.asarray(v))), "softplus": lambda v: np.log1p(np.exp(v)),
        "erf": np.vectorize(math.erf), **{f"c{k}": 1.0 for k in range(8)},
    }
    rng = np.random.default_rng(1)
    compared = 0
    for _ in range(300):
        module = compile_tree(space.sample(rng))
        with np.errstate(all="ignore"):
            expected = np.asarray(eval(module.formula.replace("^", "**"), {**names, "x": x.view(_SafeDivision)}))
        expected = expected * np.ones_like(x)
        got = module(torch.tensor(x)).detach().numpy()
        within = np.isfinite(expected) & (np.abs(expected) < 1e4)  # beyond: the operations' clamps act
        np.testing.assert_allclose(got[within], expected[within], rtol=1e-6, atol=1e-6, err_msg=module.formula)
        compared += within.sum()
    assert compared > 0.95 * 300 * len(x)


def test_constants_are_learnable_per_channel(space):
    tree = space.parse(_binary("bgaussian_sq", "mconst", "const"))
    act = compile_tree(tree, channels=4)
    assert isinstance(act, Activation) and [tuple(p.shape) for p in act.parameters()] == [(4, 1, 1)] * 3
    x = torch.randn(2, 4, 3, 3)
    act(x).square().sum().backward()
    assert all(p.grad.abs().sum() > 0 for p in act.parameters())
    assert [tuple(p.shape) for p in compile_tree(tree).parameters()] == [()] * 3


def test_resnet20_with_the_activation_has_resnet20s_parameters(space):
    relu = space.parse(_unary("umax"))
    net = compile_tree(relu, num_classes=10, in_channels=3, rng=np.random.default_rng(0))
    convs = 3 * 16 * 9 + 6 * 16 * 16 * 9 + (16 * 32 + 5 * 32 * 32) * 9 + (32 * 64 + 5 * 64 * 64) * 9
    norms = 2 * (16 + 6 * 16 + 6 * 32 + 6 * 64)
    assert count_parameters(net) == convs + norms + 64 * 10 + 10 == 269_722
    sites = 16 + 6 * 16 + 6 * 32 + 6 * 64  # the stem and two per block, one constant per channel each
    assert count_parameters(compile_tree(space.parse(_unary("mconst")), num_classes=10)) == 269_722 + sites
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    small = activation_network(relu, num_classes=10, in_channels=1, network="small")
    assert small(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_a_tree_that_is_no_activation_is_a_clear_error(space):
    from hnas.grammar import Tree

    bad = Tree("L2", "BinaryTopo", (Tree("BinOp", "add"), Tree("UnOp", "id"), Tree("UnOp", "tanh"),
                                    Tree(None, "id"), Tree(None, "sin")))
    with pytest.raises(SemanticsError, match="last two children must be id"):
        compile_tree(bad)
