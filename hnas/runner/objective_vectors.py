"""What the driver adds for ``objectives``, ``max_params`` and ``max_flops``: the costs of each
trial's network counted from the tree before it is evaluated, the hard constraints on them (an
infeasible architecture is never evaluated: it becomes a failed trial with the reason), the
measured latency (on the worker), and the loss vector told to the searcher.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hnas.grammar.tree import Tree
from hnas.runner.evaluation import resolve_objective

if TYPE_CHECKING:
    from hnas.runner.config import RunConfig

__all__ = ["LatencyObjective", "TrialCosts", "INFEASIBLE", "with_latency"]

INFEASIBLE = "infeasible"
"""How the error of a trial rejected by a constraint begins."""

_COST_OBJECTIVES = frozenset({"params", "flops"})


@dataclass(frozen=True)
class LatencyObjective:
    """``objective`` (a spec, an object or a callable) whose results carry ``extras["latency"]``:
    the seconds of one forward pass of one input, measured on the worker after the evaluation."""

    objective: Any

    def _inner(self) -> Any:
        inner = resolve_objective(self.objective)
        if not hasattr(inner, "evaluate"):
            from hnas.objectives.function import FunctionObjective

            inner = FunctionObjective(inner)
        return inner

    @property
    def nonnegative(self) -> bool | None:
        return getattr(self._inner(), "nonnegative", None)

    def evaluate(self, tree: Tree, seed: int) -> Any:
        from hnas.objectives.costs import measure_latency, network_for
        from hnas.objectives.result import as_evaluation_result

        inner = self._inner()
        result = as_evaluation_result(inner.evaluate(tree, seed))
        model, shape = network_for(inner, tree, seed)
        device = getattr(inner, "device", None)
        if device is not None:
            model.to(device)
        return replace(result, extras={**result.extras, "latency": measure_latency(model, shape)})


def with_latency(objective: Any, config: RunConfig) -> Any:
    """``objective`` wrapped in :class:`LatencyObjective` when ``config.objectives`` names latency."""
    return LatencyObjective(objective) if "latency" in config.objectives else objective


class TrialCosts:
    """Costs, constraints and loss vectors of one run (see the module doc)."""

    def __init__(self, config: RunConfig, objective: Any) -> None:
        self.names = tuple(config.objectives)
        self.max_params = config.max_params
        self.max_flops = config.max_flops
        self._objective = objective
        self._costs: dict[int, dict[str, float] | str] = {}

    @classmethod
    def for_config(cls, config: RunConfig, objective: Any) -> TrialCosts | None:
        """The costs of a run that needs them (objectives or constraints), else None."""
        if not config.objectives and config.max_params is None and config.max_flops is None:
            return None
        return cls(config, objective)

    @property
    def counts(self) -> bool:
        """Whether networks are compiled and counted before evaluation."""
        return self.max_params is not None or self.max_flops is not None or bool(_COST_OBJECTIVES & set(self.names))

    def _count(self, trial_id: int, tree: Tree) -> dict[str, float] | str:
        """The trial's costs, or why they could not be counted (cached until the trial is finished)."""
        from hnas.objectives.costs import network_costs, network_for

        if trial_id not in self._costs:
            try:
                self._costs[trial_id] = network_costs(*network_for(resolve_objective(self._objective), tree))
            except Exception as error:  # a tree the objective's compiler rejects
                reason = f"{type(error).__name__}: {error}"
                self._costs[trial_id] = f"cannot count the network's parameters and FLOPs: {reason}"
        return self._costs[trial_id]

    def screen(self, trial_id: int, tree: Tree) -> dict[str, Any] | None:
        """A failed outcome (never evaluated) when the tree breaks a constraint, else None."""
        if self.max_params is None and self.max_flops is None:
            return None
        costs = self._count(trial_id, tree)
        if isinstance(costs, str):
            return {"result": None, "error": costs, "eval_seconds": 0.0}
        reasons = [
            f"{costs[name]:,.0f} {label} > {flag} {limit:,}"
            for name, label, flag, limit in (
                ("params", "parameters", "--max_params", self.max_params),
                ("flops", "FLOPs", "--max_flops", self.max_flops),
            )
            if limit is not None and costs[name] > limit
        ]
        if not reasons:
            return None
        return {"result": {**costs}, "error": f"{INFEASIBLE}: {', '.join(reasons)} (not trained)", "eval_seconds": 0.0}

    def with_costs(self, trial_id: int, tree: Tree, outcome: dict[str, Any]) -> dict[str, Any]:
        """The outcome of an evaluation with the counted parameters and FLOPs in its result."""
        result = outcome.get("result")
        if not result or not self.counts:
            self._costs.pop(trial_id, None)
            return outcome
        costs = self._count(trial_id, tree)
        del self._costs[trial_id]
        if isinstance(costs, str):
            return {**outcome, "result": None, "error": costs}
        return {**outcome, "result": {**result, **costs}}

    def vector(self, loss: float | None, outcome: dict[str, Any]) -> tuple[tuple[float, ...] | None, dict[str, Any]]:
        """The loss vector of ``self.names`` (None for a failed trial, or one whose result lacks a
        value: its outcome then carries the reason)."""
        from hnas.objectives.costs import objective_value
        from hnas.objectives.errors import ObjectiveError

        if loss is None or not self.names:
            return None, outcome
        try:
            return tuple(objective_value(name, loss, outcome["result"]) for name in self.names), outcome
        except ObjectiveError as error:
            return None, {**outcome, "error": str(error)}
