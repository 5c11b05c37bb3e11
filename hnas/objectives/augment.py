"""Data augmentation on batched image tensors (torch only, no torchvision)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["random_flip_crop"]


def random_flip_crop(
    x: torch.Tensor, *, padding: int, flip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Random horizontal flips (p = 0.5) then random crops of the input size from ``x`` zero-padded.

    ``x`` is a batch (N, C, H, W) on any device; the random draws come from ``generator`` (a CPU
    generator), one flip and one crop offset per image, as torchvision's ``RandomHorizontalFlip``
    and ``RandomCrop(size, padding)`` do for each image separately.
    """
    n, c, h, w = x.shape
    if flip:
        flipped = torch.rand(n, generator=generator) < 0.5
        x = torch.where(flipped.to(x.device)[:, None, None, None], x.flip(3), x)
    if padding > 0:
        padded = F.pad(x, (padding, padding, padding, padding))
        offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator).to(x.device)
        rows = offsets[0][:, None] + torch.arange(h, device=x.device)
        cols = offsets[1][:, None] + torch.arange(w, device=x.device)
        padded = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * padding))
        x = padded.gather(3, cols[:, None, None, :].expand(n, c, h, w))
    return x
