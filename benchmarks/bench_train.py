"""Training throughput (images/s) of compiled sampled architectures.

    .venv/bin/python benchmarks/bench_train.py [--search_space nb201_variable_multi_multi]
        [--n_archs 5] [--images 512] [--batch_size 64] [--device cpu|cuda] [--seed 0]

Two settings, each trained with ``hnas.objectives.train_and_evaluate`` for one epoch over
``--images`` images (so the timed loop is exactly the objectives' training loop):

- ``digits``: the embedded default objective (1x8x8, 10 classes, its own protocol);
- ``32x32``: random 3x32x32 uint8 images with NAS-Bench-201's protocol (flip + crop augmentation).

Images/s = images / training seconds (validation excluded); a first short run warms up. Torch
uses ``torch.get_num_threads()`` threads (set OMP_NUM_THREADS to pin it).
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import numpy as np
import torch

from hnas.grammar import load_space
from hnas.objectives import NB201, ImageData, Split, load_task, train_and_evaluate
from hnas.objectives.registry import DEFAULT_OBJECTIVE
from hnas.semantics import compile_network, count_flops, count_parameters


def random_images(n: int, rng: np.random.Generator) -> ImageData:
    """``n`` random 3x32x32 training images with 10 classes (CIFAR's normalisation)."""
    x = torch.from_numpy(rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8))
    y = torch.from_numpy(rng.integers(0, 10, size=n))
    few = Split(x[:2], y[:2])
    return ImageData("random32", Split(x, y), few, few, 10, (125.3, 123.0, 113.9), (63.0, 62.1, 66.7))


def throughput(model: torch.nn.Module, data: ImageData, protocol, device: str) -> float:
    outcome = train_and_evaluate(model, data, protocol.replace(epochs=1), seed=0, device=device)
    return len(data.train) / outcome.train_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search_space", default="nb201_variable_multi_multi")
    parser.add_argument("--n_archs", type=int, default=5)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate-production notices of the grammar
        space = load_space(args.search_space)
    rng = np.random.default_rng(args.seed)
    trees = [space.sample(rng) for _ in range(args.n_archs)]
    digits, digits_protocol = load_task(DEFAULT_OBJECTIVE)
    settings = {
        "digits": (digits.subsets(train=args.images, evaluation=2), digits_protocol),
        "32x32": (random_images(args.images, rng), NB201),
    }
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, {args.images} images, "
          f"batch {args.batch_size}, space {args.search_space}")
    for name, (data, protocol) in settings.items():
        protocol = protocol.replace(batch_size=args.batch_size)
        warm = data.subsets(train=2 * args.batch_size, evaluation=2)
        throughput(compile_network(trees[0], num_classes=data.num_classes, in_channels=data.input_shape[0]),
                   warm, protocol, args.device)
        rates = []
        print(f"\n{name} ({'x'.join(map(str, data.input_shape))}):")
        print(f"{'arch':>4} {'params':>10} {'MFLOPs':>8} {'images/s':>9}")
        for i, tree in enumerate(trees):
            model = compile_network(tree, num_classes=data.num_classes, in_channels=data.input_shape[0])
            mflops = count_flops(model, data.input_shape) / 1e6
            rates.append(throughput(model, data, protocol, args.device))
            print(f"{i:>4} {count_parameters(model):>10} {mflops:>8.2f} {rates[-1]:>9.1f}")
        print(f"median images/s: {statistics.median(rates):.1f}")


if __name__ == "__main__":
    main()
