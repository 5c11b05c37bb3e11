"""Every zero-cost proxy against a value computed by hand (numpy, closed forms) on tiny networks with
fixed weights and a fixed batch, plus their behaviour on compiled networks and as objectives."""

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from hnas.grammar import load_space
from hnas.objectives import PROXIES, EvaluationError, ObjectiveError, get_objective, load_task, score_proxies
from hnas.objectives.training import initialize_parameters
from hnas.semantics import compile_network

# ---------------------------------------------------------------------------------------------
# The tiny network: z = W2 relu(W1 x + b1) + b2, 4 inputs, 3 hidden units, float64.

W1 = np.array([[0.5, -0.3, 0.8, 0.1], [-0.6, 0.4, 0.2, 0.7], [0.3, 0.9, -0.5, -0.2]])
B1 = np.array([0.1, -0.2, 0.05])
W2 = np.array([[0.7, -0.4, 0.6], [-0.3, 0.8, 0.5]])
B2 = np.array([0.02, -0.01])
X = np.array([
    [-0.8, -0.1, -0.7, -0.5],
    [0.8, -0.4, 0.1, 1.4],
    [1.4, 0.8, 0.3, -0.5],
    [-0.8, 1.4, 0.2, -0.9],
])
Y = np.array([0, 0, 1, 1])
SEED = 7


def tiny_net(w2: np.ndarray = W2, b2: np.ndarray = B2) -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, len(w2))).double()
    with torch.no_grad():
        for layer, w, b in ((model[0], W1, B1), (model[2], w2, b2)):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    return model


def score(name: str, model: nn.Module, x: np.ndarray = X, y: np.ndarray = Y) -> float:
    return score_proxies(model, torch.from_numpy(x), torch.from_numpy(y), [name], seed=SEED)[name]


def forward(x, w1=W1, w2=W2):
    a = x @ w1.T + B1
    h = np.maximum(a, 0)
    return a, h, h @ w2.T + B2


def loss_grads(w1=W1, w2=W2, x=X, y=Y):
    """dL/dW1, dL/dW2 of the mean cross-entropy, and dL/da, dL/dz."""
    a, h, z = forward(x, w1, w2)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz = (p - np.eye(z.shape[1])[y]) / len(x)
    da = (dz @ w2) * (a > 0)
    return da.T @ x, dz.T @ h, da, dz


def test_hand_network_fixture_is_not_degenerate():
    a, _, _ = forward(X)
    codes = a > 0
    assert len({tuple(c) for c in codes}) == 4  # four distinct activation codes
    assert np.abs(a).min() > 0.1  # no pre-activation near a kink: finite differences below are smooth


def test_grad_norm_snip_plain_l2_norm_by_hand():
    g1, g2, _, _ = loss_grads()
    model = tiny_net()
    assert score("grad_norm", model) == pytest.approx(np.linalg.norm(g1) + np.linalg.norm(g2), rel=1e-12)
    assert score("snip", model) == pytest.approx(np.abs(g1 * W1).sum() + np.abs(g2 * W2).sum(), rel=1e-12)
    assert score("plain", model) == pytest.approx((g1 * W1).sum() + (g2 * W2).sum(), rel=1e-12)
    assert score("l2_norm", model) == pytest.approx(np.linalg.norm(W1) + np.linalg.norm(W2), rel=1e-12)
    assert score("params", model) == 12 + 3 + 6 + 2


def test_grasp_by_hand_with_a_finite_difference_hessian():
    g1, g2, _, _ = loss_grads()
    eps = 1e-6  # H g = d/de grad(theta + e g) at e = 0, central difference (exact up to eps^2 here)
    plus, minus = loss_grads(W1 + eps * g1, W2 + eps * g2), loss_grads(W1 - eps * g1, W2 - eps * g2)
    hg1, hg2 = ((p - m) / (2 * eps) for p, m in zip(plus[:2], minus[:2]))
    expected = -(W1 * hg1).sum() - (W2 * hg2).sum()
    assert expected != 0
    assert score("grasp", tiny_net()) == pytest.approx(expected, rel=1e-6)


def test_fisher_by_hand():
    a, _, z = forward(X)
    _, _, da, dz = loss_grads()
    # 0.5 * mean over images of (activation * its gradient)^2 per channel, times weights per channel
    expected = 0.5 * ((a * da) ** 2).mean(axis=0).sum() * 4 + 0.5 * ((z * dz) ** 2).mean(axis=0).sum() * 3
    assert score("fisher", tiny_net()) == pytest.approx(expected, rel=1e-12)


def test_synflow_by_hand():
    # all-ones input through |W|, |b|: every unit is positive, so ReLU passes everything
    hidden = np.abs(W1).sum(axis=1) + np.abs(B1)
    layer2 = (np.abs(W2) * hidden[None, :]).sum()  # sum |W2| * dR/dW2, dR/dW2_kj = hidden_j
    layer1 = (np.abs(W1) * np.abs(W2).sum(axis=0)[:, None]).sum()  # dR/dW1_ji = sum_k |W2_kj|
    assert score("synflow", tiny_net()) == pytest.approx(math.log(layer1 + layer2), rel=1e-12)


def jacobians(x=X, w2=W2):
    """Row n: d(sum of the outputs of image n)/d x_n = W1^T ((a_n > 0) * W2^T 1)."""
    a = x @ W1.T + B1
    return ((a > 0) * w2.sum(axis=0)[None, :]) @ W1


def test_jacov_by_hand():
    v = np.clip(np.linalg.eigvalsh(np.corrcoef(jacobians())), 0, None)
    expected = -np.sum(np.log(v + 1e-5) + 1 / (v + 1e-5))
    assert score("jacov", tiny_net()) == pytest.approx(expected, rel=1e-9)


def test_epe_nas_by_hand():
    j = jacobians()
    per_class = [np.log(np.abs(np.corrcoef(j[Y == c])) + 1e-5).sum() for c in (0, 1)]
    assert score("epe_nas", tiny_net()) == pytest.approx(abs(per_class[0]) + abs(per_class[1]), rel=1e-9)


def test_epe_nas_with_more_than_100_outputs_by_hand():
    rng = np.random.default_rng(0)
    w2, b2 = rng.normal(size=(101, 3)), np.zeros(101)
    x = np.concatenate([X, X[:2] + 0.01 * rng.normal(size=(2, 4))])
    y = np.array([0, 0, 1, 1, 2, 1])
    j = jacobians(x, w2)
    s = np.array([np.log(np.abs(np.corrcoef(j[y == c])) + 1e-5).sum() / (y == c).sum() for c in (0, 1, 2)])
    expected = np.abs(s[:, None] - s[None, :]).sum() / 3
    assert expected > 0
    assert score("epe_nas", tiny_net(w2, b2), x, y) == pytest.approx(expected, rel=1e-9)


def test_naswot_by_hand():
    a, _, _ = forward(X)
    c = (a > 0).astype(float)
    kernel = c @ c.T + (1 - c) @ (1 - c).T
    sign, logdet = np.linalg.slogdet(kernel)
    assert sign > 0
    assert score("naswot", tiny_net()) == pytest.approx(logdet, rel=1e-12)


def test_linear_regions_by_hand():
    # six images, two of them nudged copies of others: four distinct activation codes
    x = np.concatenate([X, X[:2] + 1e-3])
    a, _, _ = forward(x)
    expected = len(np.unique(a > 0, axis=0))
    assert expected == 4
    assert score("linear_regions", tiny_net(), x, np.zeros(6, dtype=np.int64)) == expected


def test_ntk_by_hand():
    a, h, _ = forward(X)
    ones = np.ones(len(W2))
    rows = [
        np.concatenate([np.outer((W2.T @ ones) * (a[n] > 0), X[n]).ravel(), np.outer(ones, h[n]).ravel()])
        for n in range(len(X))
    ]  # d(sum of outputs of image n) / d(W1, W2); biases are not weights
    g = np.array(rows)
    eigenvalues = np.linalg.eigvalsh(g @ g.T)
    assert score("ntk", tiny_net()) == pytest.approx(-eigenvalues[-1] / eigenvalues[0], rel=1e-9)


def test_zen_by_hand():
    model = nn.Sequential(
        nn.Conv2d(2, 3, 1, bias=False), nn.BatchNorm2d(3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(3, 2),
    ).double()  # fmt: skip
    x = torch.zeros(4, 2, 2, 2, dtype=torch.float64)  # only its shape is used
    # the documented draws: each conv / linear weight N(0, 1) in module order, then z, then e
    g = torch.Generator().manual_seed(SEED)
    conv = torch.randn((3, 2, 1, 1), generator=g, dtype=torch.float64).numpy()[:, :, 0, 0]
    torch.randn((2, 3), generator=g, dtype=torch.float64)
    z = torch.randn(x.shape, generator=g, dtype=torch.float64).numpy()
    e = torch.randn(x.shape, generator=g, dtype=torch.float64).numpy()

    running_var = np.ones(3)

    def features(u):  # relu(batchnorm(conv1x1(u))) in train mode, updating the running variance
        nonlocal running_var
        o = np.einsum("kc,nchw->nkhw", conv, u)
        mean, var = o.mean(axis=(0, 2, 3)), o.var(axis=(0, 2, 3))
        count = o.shape[0] * o.shape[2] * o.shape[3]
        running_var = 0.9 * running_var + 0.1 * var * count / (count - 1)
        return np.maximum((o - mean[None, :, None, None]) / np.sqrt(var + 1e-5)[None, :, None, None], 0)

    difference = np.abs(features(z) - features(z + 0.01 * e)).sum(axis=(1, 2, 3)).mean()
    expected = math.log(difference) + math.log(math.sqrt(running_var.mean()))
    assert score_proxies(model, x, torch.zeros(4, dtype=torch.long), ["zen"], seed=SEED)["zen"] == pytest.approx(
        expected, rel=1e-9
    )


def test_zen_needs_global_pooling_and_naswot_activations():
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    with pytest.raises(EvaluationError, match=r"zen: the network has no global average pooling"):
        score_proxies(tiny_net(), x, y, ["zen"])
    linear = nn.Sequential(nn.Linear(4, 2)).double()
    for name in ("naswot", "linear_regions"):
        with pytest.raises(EvaluationError, match=rf"{name}: the network has no ReLU-like activation"):
            score_proxies(linear, x, y, [name])


def test_every_proxy_has_a_hand_computed_test():
    tested = {"grad_norm", "snip", "plain", "l2_norm", "params", "grasp", "fisher", "synflow", "jacov",
              "epe_nas", "naswot", "linear_regions", "ntk", "zen"}  # fmt: skip
    assert set(PROXIES) == tested


# ---------------------------------------------------------------------------------------------
# Compiled networks, objectives.

CELLS = [
    "(CELL Cell (OPS conv3x3) (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS avg_pool))",
    "(CELL Cell (OPS conv1x1) (OPS conv3x3) (OPS conv3x3) (OPS zero) (OPS zero) (OPS conv1x1))",
    "(CELL Cell (OPS avg_pool) (OPS id) (OPS conv3x3) (OPS id) (OPS conv1x1) (OPS conv3x3))",
]
BATCH = 16


@pytest.fixture(scope="module")
def space():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_space("nb201_fixed_1_none")


@pytest.fixture(scope="module")
def batch():
    data = load_task("digits")[0]
    return data.normalize(data.train.x[:BATCH]), data.train.y[:BATCH]


def _network(space, cell: str, seed: int = 0) -> nn.Module:
    model = compile_network(space.parse(cell), num_classes=10, in_channels=1)
    initialize_parameters(model, torch.Generator().manual_seed(seed))
    return model


@pytest.fixture(scope="module")
def scores(space, batch):
    return [score_proxies(_network(space, cell), *batch, PROXIES) for cell in CELLS]


@pytest.mark.slow  # the scores fixture: 14 proxies on 3 networks, about 10 s of CPU
@pytest.mark.parametrize("proxy", list(PROXIES))
def test_each_proxy_scores_compiled_networks(scores, proxy):
    values = [s[proxy] for s in scores]
    assert all(math.isfinite(v) for v in values)
    if proxy == "linear_regions":  # every image of a small batch has its own region in these networks
        assert values == [BATCH] * len(CELLS)
    else:
        assert len(set(values)) == len(values)


@pytest.mark.slow
def test_proxies_are_deterministic_and_leave_the_network_unchanged(space, batch, scores):
    model = _network(space, CELLS[1])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert score_proxies(model, *batch, PROXIES) == scores[1]  # the same network scored by the fixture
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())
    # zen's Gaussian draws come from the seed; the others use no random numbers
    other = score_proxies(model, *batch, ["zen", "naswot", "grasp"], seed=4)
    assert other["zen"] != scores[1]["zen"]
    assert (other["naswot"], other["grasp"]) == (scores[1]["naswot"], scores[1]["grasp"])


def test_unknown_proxy_name_is_a_clear_error():
    with pytest.raises(ObjectiveError, match=r"unknown zero-cost proxy 'nwot'; known: naswot, synflow"):
        get_objective("digits", proxies="naswot,nwot")


def test_proxy_objective_value_is_minus_the_score_and_deterministic(space):
    objective = get_objective("synflow", proxies=["params"], batch_size=16)
    tree = space.parse(CELLS[0])
    a, b = objective.evaluate(tree, seed=3), objective.evaluate(tree, seed=3)
    assert a.val_error == -a.extras["synflow"] == b.val_error
    assert a.extras["params"] == a.params > 0
    assert a.epochs == 0 and math.isnan(a.test_error)
    assert objective.input_shape == (1, 8, 8)
