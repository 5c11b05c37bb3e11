"""The runner's side of multi-fidelity searchers (:mod:`hnas.searchers.multi_fidelity`).

A multi-fidelity run stores one trial per job (``--max_evaluations_total`` counts these
evaluations, whatever their epochs), with the columns ``budget_epochs`` (the epochs the job
trains to), ``rung``, ``bracket`` and ``continues`` (the id of the trial whose checkpoint it
continues; ``None``: trained from zero). A continued trial has the seed of the trial it continues.
Each evaluation gets a :class:`~hnas.objectives.budget.TrainingBudget`: train to
``budget_epochs`` of a schedule over the searcher's ``max_epochs``, save the training state to
``checkpoints/trial_<id>.pt`` in the run directory, and continue from the continued trial's file.
Workers read and write these files themselves: with Dask, the run directory must be on a
filesystem every worker sees at the same path. Once a continuing trial is done, the checkpoint it
continued from is deleted (it is not needed again); the others stay (a trial ASHA may still
promote, the final ones).

The fidelity is training epochs (``fidelity="epochs"``, the default) or the train-subset size
(``fidelity="train_subset"``): then the searcher's levels, set by ``min_train_subset`` and
``max_train_subset`` (``--min_train_subset``, ``--max_train_subset``), are numbers of training
images, stored in ``budget_epochs`` with ``budget_kind`` ``train_subset`` (``results.csv`` names
the column ``budget_train_subset``). Every evaluation trains the objective's own epochs on the
first ``budget_epochs`` images of its training split (one fixed order, so a larger subset contains
a smaller one); a promoted trial (``continues`` still names the trial it was promoted from, whose
seed it keeps) is trained from zero on its larger subset: there are no checkpoints.

On resume the searcher is rebuilt from every stored trial in id (= ask) order with its result
(the objective, ``None`` if failed, pending if unfinished) and its O(1) checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hnas.runner.errors import RunConfigError
from hnas.runner.store import RunStore, Trial, TrialStatus

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace
    from hnas.objectives.budget import TrainingBudget
    from hnas.runner.config import RunConfig
    from hnas.searchers.multi_fidelity import Job, MultiFidelitySearcher

__all__ = [
    "FIDELITY_FIELDS", "FIDELITY_KINDS", "SUBSET_FIELDS", "CHECKPOINT_FOLDER", "is_multi_fidelity",
    "fidelity_options", "check_fidelity_objective",
    "checkpoint_path", "FidelityRun", "best_at_full_budget",
]  # fmt: skip

FIDELITY_FIELDS = ("min_epochs", "max_epochs", "eta")
"""``RunConfig`` fields (``--min_epochs``, ``--max_epochs``, ``--eta``) that set the options of the
same name of a multi-fidelity searcher (``None``: the searcher's default)."""

FIDELITY_KINDS = ("epochs", "train_subset")
"""What a multi-fidelity searcher's levels count (``RunConfig.fidelity``, ``--fidelity``)."""

SUBSET_FIELDS = {"min_train_subset": "min_epochs", "max_train_subset": "max_epochs"}
"""``RunConfig`` fields (``--min_train_subset``, ``--max_train_subset``) that set the searcher's
levels, in training images, with ``fidelity="train_subset"`` (both required then)."""

CHECKPOINT_FOLDER = "checkpoints"


def is_multi_fidelity(searcher: Any) -> bool:
    """Whether ``searcher`` (an instance or a class) is a multi-fidelity searcher."""
    from hnas.searchers.multi_fidelity import MultiFidelitySearcher

    cls = searcher if isinstance(searcher, type) else type(searcher)
    return issubclass(cls, MultiFidelitySearcher)


def fidelity_options(config: RunConfig, cls: type) -> dict[str, Any]:
    """The searcher options set by ``config``'s fidelity fields; RunConfigError naming the field
    when the searcher has no fidelity, when the option is also in ``searcher_options``, when
    ``epochs`` is set for a multi-fidelity searcher by epochs (it chooses the epochs of each
    evaluation), or when the fields do not fit ``fidelity``."""
    multi = is_multi_fidelity(cls)
    if config.fidelity not in FIDELITY_KINDS:
        raise RunConfigError(f"fidelity must be one of {', '.join(FIDELITY_KINDS)}, got {config.fidelity!r}",
                             field="fidelity")  # fmt: skip
    if config.fidelity == "train_subset":
        return _subset_options(config, multi)
    for name in SUBSET_FIELDS:
        if getattr(config, name) is not None:
            raise RunConfigError(f"{name} sets the levels of fidelity train_subset; this run's fidelity is epochs "
                                 "(set fidelity to train_subset, --fidelity train_subset)", field=name)  # fmt: skip
    given = {name: getattr(config, name) for name in FIDELITY_FIELDS if getattr(config, name) is not None}
    if multi and config.epochs is not None:
        raise RunConfigError(
            f"epochs: searcher {config.searcher_name} chooses the epochs of each evaluation; "
            "set max_epochs (--max_epochs) instead",
            field="epochs",
        )
    for name in given:
        if not multi:
            raise RunConfigError(
                f"{name}: searcher {config.searcher_name} has no fidelity; {name} applies to the multi-fidelity "
                "searchers (successive_halving, hyperband, asha, bo_hyperband)",
                field=name,
            )
        if name in config.searcher_options:
            raise RunConfigError(f"{name} is given twice: as a field and in searcher_options", field=name)
    return given


def _subset_options(config: RunConfig, multi: bool) -> dict[str, Any]:
    """``fidelity_options`` of the train-subset fidelity: its levels from ``min_train_subset`` and
    ``max_train_subset`` (both required), ``eta`` as given."""
    if not multi:
        raise RunConfigError(
            f"fidelity: searcher {config.searcher_name} has no fidelity; fidelity train_subset applies to the "
            "multi-fidelity searchers (successive_halving, hyperband, asha, bo_hyperband)",
            field="fidelity",
        )
    for name in ("min_epochs", "max_epochs"):
        if getattr(config, name) is not None:
            raise RunConfigError(f"{name}: with fidelity train_subset the levels are numbers of training images: "
                                 f"set min_train_subset and max_train_subset instead", field=name)  # fmt: skip
    options = {"eta": config.eta} if config.eta is not None else {}
    for name, option in SUBSET_FIELDS.items():
        if getattr(config, name) is None:
            raise RunConfigError(f"{name}: fidelity train_subset needs min_train_subset and max_train_subset "
                                 "(the fewest and most training images of an evaluation)", field=name)  # fmt: skip
        options[option] = getattr(config, name)
    if options["min_epochs"] > options["max_epochs"]:
        raise RunConfigError(f"min_train_subset ({config.min_train_subset}) must not exceed max_train_subset "
                             f"({config.max_train_subset})", field="min_train_subset")  # fmt: skip
    for option in options:
        if option in config.searcher_options:
            raise RunConfigError(f"{option} is given twice: as a field and in searcher_options", field=option)
    return options


def check_fidelity_objective(config: RunConfig, objective: Any) -> None:
    """RunConfigError, before anything is evaluated, when a multi-fidelity searcher would drive an
    objective whose ``evaluate`` takes no ``budget`` (``supports_fidelity`` is not set)."""
    if is_multi_fidelity(config.searcher_setup()[0]) and not getattr(objective, "supports_fidelity", False):
        what = "on a number of training images" if config.fidelity == "train_subset" else "for a number of epochs"
        raise RunConfigError(
            f"searcher {config.searcher_name} trains {what} per evaluation, but objective "
            f"{config.objective_name} does not (supports_fidelity is not set): use a training objective "
            "such as digits or nb201_cifar10",
            field="objective",
        )


def checkpoint_path(directory: str | Path, trial_id: int) -> Path:
    """The file a trial's training state is saved to."""
    return Path(directory) / CHECKPOINT_FOLDER / f"trial_{trial_id}.pt"


class FidelityRun:
    """The jobs of a multi-fidelity run by trial id: it restores the searcher from the store, adds
    new jobs as trials and gives each evaluation its :class:`TrainingBudget`; ``kind``: one of
    :data:`FIDELITY_KINDS`."""

    def __init__(
        self, searcher: MultiFidelitySearcher, store: RunStore, space: SearchSpace, kind: str = "epochs"
    ) -> None:
        from hnas.searchers.multi_fidelity import PENDING, Job

        self.searcher, self.store, self.space, self.kind = searcher, store, space, kind
        self.jobs: dict[int, Job] = {}
        self._trial_of: dict[tuple[str, int], int] = {}  # (architecture, budget_epochs) -> trial id
        self._seeds: dict[int, int] = {}
        trials = store.trials()
        epochs_of = {t.id: t.budget_epochs for t in trials}
        asked = []
        for trial in trials:
            if trial.budget_epochs is None:
                raise RunConfigError(f"trial {trial.id} of this run has no budget_epochs: the run was not "
                                     "made by a multi-fidelity searcher", field="searcher")  # fmt: skip
            continues = epochs_of.get(trial.continues)  # None: a new configuration (or a salvaged store lost it)
            job = Job(space.parse(trial.architecture), trial.budget_epochs, trial.rung, trial.bracket, continues)
            self._note(trial.id, trial.architecture, job, trial.seed)
            result = trial.objective if trial.status in TrialStatus.FINISHED else PENDING
            asked.append((job, result))
        searcher.restore(store.searcher_state(), asked)

    def job(self, trial_id: int) -> Job:
        return self.jobs[trial_id]

    def add_trial(
        self, job: Job, seed_of: Callable[[int], int], checkpoint: Mapping[str, Any], key: str | None
    ) -> tuple[int, int]:
        """Store ``job`` as a new pending trial (with the searcher's checkpoint); a continued job
        gets the seed of the trial it continues. Returns the id and the seed."""
        architecture = self.space.to_string(job.tree)
        parent = None if job.continues is None else self._trial_of[(architecture, job.continues)]
        if parent is not None:
            seed_of = lambda _: self._seeds[parent]  # noqa: E731
        columns = {"budget_epochs": job.epochs, "rung": job.rung, "bracket": job.bracket, "continues": parent,
                   "budget_kind": self.kind}  # fmt: skip
        trial_id, seed = self.store.add_trial(architecture, seed_of, checkpoint, key, columns)
        self._note(trial_id, architecture, job, seed)
        return trial_id, seed

    def budget(self, trial_id: int) -> TrainingBudget:
        """How the evaluation of ``trial_id`` trains: to its epochs, from and to which checkpoint
        (train-subset fidelity: on its number of images, from zero)."""
        from hnas.objectives.budget import TrainingBudget

        job = self.jobs[trial_id]
        if self.kind == "train_subset":
            return TrainingBudget(None, None, train_images=job.epochs)
        directory = self.store.run_dir.resolve()
        resume = None
        if job.continues is not None:
            parent = self._trial_of[(self.space.to_string(job.tree), job.continues)]
            resume = str(checkpoint_path(directory, parent))
        return TrainingBudget(job.epochs, self.searcher.max_epochs, str(checkpoint_path(directory, trial_id)), resume)

    def finished(self, trial_id: int, done: bool) -> None:
        """After a trial's result is committed: a done continued trial frees its parent's checkpoint."""
        job = self.jobs[trial_id]
        if done and job.continues is not None and self.kind == "epochs":
            parent = self._trial_of[(self.space.to_string(job.tree), job.continues)]
            checkpoint_path(self.store.run_dir, parent).unlink(missing_ok=True)

    def _note(self, trial_id: int, architecture: str, job: Job, seed: int) -> None:
        self.jobs[trial_id] = job
        self._seeds[trial_id] = seed
        self._trial_of[(architecture, job.epochs)] = trial_id


def best_at_full_budget(trials: list[Trial]) -> list[Trial]:
    """The trials at the highest ``budget_epochs`` of a multi-fidelity run (all trials otherwise):
    results at lower fidelities are not comparable with full trainings."""
    budgets = [t.budget_epochs for t in trials if t.budget_epochs is not None and t.objective is not None]
    if not budgets:
        return list(trials)
    top = max(budgets)
    return [t for t in trials if t.budget_epochs == top]
