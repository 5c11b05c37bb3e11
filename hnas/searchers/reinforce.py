"""REINFORCE over the grammar's production probabilities (the NAS-RL controller, Zoph & Le 2017,
with a softmax per nonterminal instead of an LSTM).

The policy is one softmax per nonterminal over its productions, initialised from the grammar's
weights. An ask samples the grammar with the policy's probabilities as production weights through
the grammar's own constrained sampler, so ``zero`` never disconnects a topology (infeasible choices
are masked as in every sample of the space). A told result with reward ``-loss`` moves the logits
by ``learning_rate * (reward - baseline)`` times the gradient of the mean log-probability of the
tree's decisions, ``onehot(choice) - policy`` per decision (REINFORCE; the mean keeps one step size
right for small and large trees; the constraint's renormalisation is ignored), where the baseline is an exponential moving average of the rewards. Asks need no
results in between, so parallel workers get a batch of samples from the current policy. Failed
trials do not move the policy. :meth:`Reinforce.weighted_grammar` writes the learned policy as a
grammar file with nltk PCFG weights that ``load_space`` reads back.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hnas.grammar.cfg import Grammar, Production
from hnas.grammar.space import SearchSpace
from hnas.grammar.tree import Tree
from hnas.searchers.base import Searcher
from hnas.searchers.options import OptionsError, check_number


__all__ = ["Reinforce", "SAMPLING_TRIES"]

SAMPLING_TRIES = 200
"""Policy samples tried for an unknown architecture before falling back to a uniform new sample."""


class Reinforce(Searcher):
    """REINFORCE with an exponential-moving-average baseline over production probabilities."""

    name = "reinforce"

    @dataclass(frozen=True)
    class Options:
        """``learning_rate``: step on the logits per unit advantage; ``baseline_decay``: weight of the
        old baseline in its moving average (in [0, 1))."""

        learning_rate: float = 2.0
        baseline_decay: float = 0.9

        def __post_init__(self) -> None:
            check_number("learning_rate", self.learning_rate, 0.0)
            check_number("baseline_decay", self.baseline_decay, 0.0)
            if not self.baseline_decay < 1.0:
                raise OptionsError(f"option baseline_decay must be in [0, 1), got {self.baseline_decay}",
                                   "baseline_decay")

    options: Options

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        rules = space.grammar.rules
        self._productions: dict[str, list[Production]] = {nt: list(alts) for nt, alts in rules.items()}
        self.logits: dict[str, np.ndarray] = {}
        for nt, alts in self._productions.items():
            weights = np.array([float(p.weight) for p in alts])
            self.logits[nt] = np.log(weights / weights.sum())
        self._choice: dict[tuple[str, str, tuple[str, ...]], tuple[str, int]] = {
            (nt, p.op, tuple(c.name for c in p.children)): (nt, k)
            for nt, alts in self._productions.items() for k, p in enumerate(alts)
        }
        self.baseline: float | None = None
        self._sampler: SearchSpace | None = None

    # the policy --------------------------------------------------------------------------------
    def probabilities(self, nonterminal: str) -> dict[str, float]:
        """The policy at ``nonterminal``: production (as written in a grammar file) -> probability."""
        return {str(p): float(q) for p, q in zip(self._productions[nonterminal], _softmax(self.logits[nonterminal]))}

    def decisions(self, tree: Tree) -> list[tuple[str, int]]:
        """(nonterminal, production index) of every node of ``tree`` with a choice."""
        out = []
        for node in tree.walk():
            if node.symbol is None or len(self._productions.get(node.symbol, ())) < 2:
                continue
            children = tuple(c.op if c.symbol is None else c.symbol for c in node.children)
            out.append(self._choice[(node.symbol, node.op, children)])
        return out

    def _policy_grammar(self) -> Grammar:
        rules = {nt: [dataclasses.replace(p, weight=float(w)) for p, w in zip(alts, _softmax(self.logits[nt]))]
                 for nt, alts in self._productions.items()}
        return dataclasses.replace(self.space.grammar, rules=rules)

    def weighted_grammar(self) -> str:
        """The policy as a grammar file with PCFG weights (``OPS -> "id" [0.2] | ...``), start rule first.
        Only for spaces without shared building blocks (a single grammar file)."""
        grammar = self.space.grammar
        if grammar.shared:
            raise OptionsError("weighted_grammar: spaces with shared building blocks (TERMINAL=file.cfg) are not "
                               "supported; the policy of each nonterminal is in probabilities()")
        order = [grammar.start] + [nt for nt in self._productions if nt != grammar.start]
        lines = ["# REINFORCE policy learned by hnas (production probabilities as PCFG weights)"]
        for nt in order:
            alts = [str(p).split(" -> ", 1)[1] + f" [{max(q, 1e-12):.6g}]"  # PCFG weights must be > 0
                    for p, q in zip(self._productions[nt], _softmax(self.logits[nt]))]
            lines.append(f"{nt} -> " + " | ".join(alts))
        return "\n".join(lines) + "\n"

    # the searcher contract ---------------------------------------------------------------------
    def propose(self) -> Tree:
        if self._sampler is None:
            self._sampler = SearchSpace(self._policy_grammar(), self.space.name)
        for _ in range(SAMPLING_TRIES):
            tree = self._sampler.sample(self.rng)
            if not self.is_known(tree):
                return tree
        return self.sample_new()

    def observe(self, tree: Tree, loss: float | None) -> None:
        if loss is None or not math.isfinite(loss):
            return
        reward = -float(loss)
        if self.baseline is None:
            self.baseline = reward
        advantage = reward - self.baseline
        self.baseline = self.options.baseline_decay * self.baseline + (1 - self.options.baseline_decay) * reward
        if advantage == 0.0:
            return
        decisions = self.decisions(tree)
        step = self.options.learning_rate * advantage / max(1, len(decisions))
        for nt, k in decisions:
            probs = _softmax(self.logits[nt])
            grad = -probs
            grad[k] += 1.0
            self.logits[nt] = self.logits[nt] + step * grad
        self._sampler = None


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()
