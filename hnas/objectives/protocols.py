"""Training protocols: optimiser, schedule and augmentation settings (SPEC §5)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hnas.objectives.errors import ObjectiveError

__all__ = ["TrainingProtocol", "NB201", "NB201_IMAGENET16", "NB360", "EMBEDDED"]


@dataclass(frozen=True)
class TrainingProtocol:
    """SGD with momentum and a per-step cosine learning-rate schedule to 0, cross-entropy loss.

    ``crop_padding`` > 0 turns on random crops of the input size from the zero-padded image,
    ``flip`` random horizontal flips. ``eval_batch_size`` only affects speed.
    """

    epochs: int
    batch_size: int
    learning_rate: float
    momentum: float = 0.9
    weight_decay: float = 0.0
    nesterov: bool = False
    crop_padding: int = 0
    flip: bool = False
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        for name, least in (("epochs", 1), ("batch_size", 1), ("eval_batch_size", 1), ("crop_padding", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ObjectiveError(f"{name} must be an integer >= {least}, got {value!r}")
        for name in ("learning_rate", "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ObjectiveError(f"{name} must be a number >= 0, got {value!r}")
        for name in ("nesterov", "flip"):
            if not isinstance(getattr(self, name), bool):
                raise ObjectiveError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.nesterov and self.momentum <= 0:
            raise ObjectiveError(f"nesterov momentum needs momentum > 0, got momentum={self.momentum!r}")

    def replace(self, **changes: object) -> TrainingProtocol:
        """A copy with some fields changed; an unknown field is an :class:`ObjectiveError`."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ObjectiveError(
                f"unknown training option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        return dataclasses.replace(self, **changes)


NB201 = TrainingProtocol(
    epochs=200, batch_size=256, learning_rate=0.1, momentum=0.9, weight_decay=5e-4,
    nesterov=True, crop_padding=4, flip=True,
)
"""NAS-Bench-201 on CIFAR-10/100: 200 epochs, Nesterov SGD, lr 0.1 cosine to 0, flip + crop (pad 4)."""

NB201_IMAGENET16 = dataclasses.replace(NB201, crop_padding=2)
"""NAS-Bench-201 on ImageNet16-120: as :data:`NB201` with 16px crops from padding 2."""

NB360 = TrainingProtocol(
    epochs=64, batch_size=64, learning_rate=0.01, momentum=0.9, weight_decay=3e-4,
)
"""CIFARTile / AddNIST: 64 epochs, SGD lr 0.01 momentum 0.9, weight decay 3e-4, cosine, no augmentation."""

EMBEDDED = TrainingProtocol(
    epochs=6, batch_size=64, learning_rate=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True,
)
"""The embedded offline tasks: a short Nesterov SGD run with a cosine schedule, no augmentation."""
