"""What a search evaluates: training protocols, dataset loaders, embedded offline tasks, proxies.

``get_objective(name, data_path=None, **options)`` returns an :class:`Objective` (or a
:class:`FunctionObjective`), whose ``evaluate(tree, seed)`` gives an :class:`EvaluationResult`
(``val_error`` is the value to minimise); ``name`` may also be a reference ``module:function``.
``register_objective(name, factory)`` adds a user's objective. :data:`DEFAULT_OBJECTIVE` runs
offline. See ``docs/objectives.md`` and ``docs/extending.md``.
"""

from hnas.objectives.data import ImageData, Split
from hnas.objectives.errors import DataFileError, EvaluationError, ObjectiveError
from hnas.objectives.function import FunctionObjective
from hnas.objectives.objective import DebugObjective, Objective, ProxyObjective, TrainingObjective
from hnas.objectives.protocols import EMBEDDED, NB201, NB201_IMAGENET16, NB360, TrainingProtocol
from hnas.objectives.proxies import PROXIES, score_proxies
from hnas.objectives.registry import (
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    TASKS,
    ObjectiveFactory,
    get_objective,
    load_task,
    objective_names,
    register_objective,
    task_shape,
)
from hnas.objectives.result import EvaluationResult, as_evaluation_result
from hnas.objectives.training import TrainingOutcome, initialize_parameters, train_and_evaluate

__all__ = [
    "DEFAULT_OBJECTIVE",
    "OBJECTIVES",
    "PROXIES",
    "TASKS",
    "EMBEDDED",
    "NB201",
    "NB201_IMAGENET16",
    "NB360",
    "DataFileError",
    "DebugObjective",
    "EvaluationError",
    "EvaluationResult",
    "FunctionObjective",
    "ImageData",
    "Objective",
    "ObjectiveError",
    "ObjectiveFactory",
    "ProxyObjective",
    "Split",
    "TrainingObjective",
    "TrainingOutcome",
    "TrainingProtocol",
    "as_evaluation_result",
    "get_objective",
    "initialize_parameters",
    "load_task",
    "objective_names",
    "register_objective",
    "score_proxies",
    "task_shape",
    "train_and_evaluate",
]
