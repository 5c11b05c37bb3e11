"""What a search evaluates: training protocols, dataset loaders, embedded offline tasks, proxies.

``get_objective(name, data_path=None, **options)`` returns an :class:`Objective`, whose
``evaluate(tree, seed)`` gives an :class:`EvaluationResult` (``val_error`` is the value to
minimise). :data:`DEFAULT_OBJECTIVE` runs offline. See ``docs/objectives.md``.
"""

from hnas.objectives.data import ImageData, Split
from hnas.objectives.errors import DataFileError, EvaluationError, ObjectiveError
from hnas.objectives.objective import DebugObjective, Objective, ProxyObjective, TrainingObjective
from hnas.objectives.protocols import EMBEDDED, NB201, NB201_IMAGENET16, NB360, TrainingProtocol
from hnas.objectives.proxies import PROXIES, score_proxies
from hnas.objectives.registry import DEFAULT_OBJECTIVE, OBJECTIVES, TASKS, get_objective, load_task, task_shape
from hnas.objectives.result import EvaluationResult
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
    "ImageData",
    "Objective",
    "ObjectiveError",
    "ProxyObjective",
    "Split",
    "TrainingObjective",
    "TrainingOutcome",
    "TrainingProtocol",
    "get_objective",
    "initialize_parameters",
    "load_task",
    "score_proxies",
    "task_shape",
    "train_and_evaluate",
]
