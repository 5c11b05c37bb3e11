import math
import warnings

import pytest
import torch
from torch import nn

from hnas.grammar import load_space
from hnas.objectives import PROXIES, EvaluationError, get_objective, load_task, score_proxies
from hnas.objectives.training import initialize_parameters
from hnas.semantics import compile_network

CELLS = [
    "(CELL Cell (OPS conv3x3) (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS avg_pool))",
    "(CELL Cell (OPS conv1x1) (OPS conv3x3) (OPS conv3x3) (OPS zero) (OPS zero) (OPS conv1x1))",
    "(CELL Cell (OPS avg_pool) (OPS id) (OPS conv3x3) (OPS id) (OPS conv1x1) (OPS conv3x3))",
]


@pytest.fixture(scope="module")
def space():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_space("nb201_fixed_1_none")


@pytest.fixture(scope="module")
def batch():
    data = load_task("digits")[0]
    return data.normalize(data.train.x[:32]), data.train.y[:32]


def _network(space, cell: str, seed: int = 0) -> nn.Module:
    model = compile_network(space.parse(cell), num_classes=10, in_channels=1)
    initialize_parameters(model, torch.Generator().manual_seed(seed))
    return model


@pytest.fixture(scope="module")
def scores(space, batch):
    return [score_proxies(_network(space, cell), *batch, PROXIES) for cell in CELLS]


@pytest.mark.parametrize("proxy", list(PROXIES))
def test_each_proxy_gives_finite_distinct_scores_for_distinct_networks(scores, proxy):
    values = [s[proxy] for s in scores]
    assert all(math.isfinite(v) for v in values)
    assert len(set(values)) == len(values)


def test_scores_have_the_documented_scale(scores, space):
    for s, cell in zip(scores, CELLS):
        assert s["params"] == sum(p.numel() for p in _network(space, cell).parameters())
        assert 0 < s["naswot"] and s["grad_norm"] > 0 and s["jacov"] < 0


def test_proxies_leave_the_network_unchanged(space, batch):
    model = _network(space, CELLS[1])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    score_proxies(model, *batch, PROXIES)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())


def test_naswot_needs_activations(batch):
    linear = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(EvaluationError, match="no ReLU-like activation"):
        score_proxies(linear, *batch, ["naswot"])


def test_unknown_proxy_name_is_a_clear_error():
    from hnas.objectives import ObjectiveError

    with pytest.raises(ObjectiveError, match=r"unknown zero-cost proxy 'snip'; known: naswot, synflow"):
        get_objective("digits", proxies="naswot,snip")


def test_proxy_objective_value_is_minus_the_score_and_deterministic(space):
    objective = get_objective("synflow", proxies=["params"], batch_size=16)
    tree = space.parse(CELLS[0])
    a, b = objective.evaluate(tree, seed=3), objective.evaluate(tree, seed=3)
    assert a.val_error == -a.extras["synflow"] == b.val_error
    assert a.extras["params"] == a.params > 0
    assert a.epochs == 0 and math.isnan(a.test_error)
    assert objective.input_shape == (1, 8, 8)
