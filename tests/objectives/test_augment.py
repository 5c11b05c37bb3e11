import pytest
import torch

from hnas.objectives.augment import random_flip_crop


def _batch(n: int = 64, c: int = 3, side: int = 8) -> torch.Tensor:
    return torch.arange(n * c * side * side, dtype=torch.float32).reshape(n, c, side, side) + 1


def test_flip_only_flips_some_images_and_leaves_the_others():
    x = _batch()
    out = random_flip_crop(x, padding=0, flip=True, generator=torch.Generator().manual_seed(0))
    same = (out == x).flatten(1).all(1)
    flipped = (out == x.flip(3)).flatten(1).all(1)
    assert bool((same | flipped).all())
    assert 10 < int(flipped.sum()) < 54


@pytest.mark.parametrize("padding", [2, 4])
def test_crop_is_a_shifted_window_of_the_zero_padded_image(padding):
    x = _batch(n=32)
    out = random_flip_crop(x, padding=padding, flip=False, generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    offsets = set()
    for i in range(len(x)):
        matches = [
            (dy, dx)
            for dy in range(2 * padding + 1)
            for dx in range(2 * padding + 1)
            if torch.equal(padded[i, :, dy : dy + 8, dx : dx + 8], out[i])
        ]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 5  # offsets vary between images


def test_same_generator_seed_gives_the_same_augmentation():
    x = _batch()
    a = random_flip_crop(x, padding=4, flip=True, generator=torch.Generator().manual_seed(3))
    b = random_flip_crop(x, padding=4, flip=True, generator=torch.Generator().manual_seed(3))
    c = random_flip_crop(x, padding=4, flip=True, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
