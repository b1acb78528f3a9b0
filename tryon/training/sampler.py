"""Deterministic, resumable batches: the batch for a global micro-step is fixed by (seed, step), whatever the run."""
import numpy as np

from tryon.errors import TryOnError


class StepBatchSampler:
    """Yields this process's share of each global batch, from micro-step `start` on, forever.

    Each epoch is a permutation seeded by (seed, epoch); a global batch holds batch_size * world indices, of which
    process `rank` takes every world-th. Items are (index, epoch) keys, so augmentations differ per epoch.
    """

    def __init__(self, n: int, batch_size: int, *, seed: int = 0, start: int = 0, rank: int = 0, world: int = 1):
        self.n, self.batch_size, self.seed, self.start, self.rank, self.world = n, batch_size, seed, start, rank, world
        self.batches_per_epoch = n // (batch_size * world)
        if self.batches_per_epoch == 0:
            raise TryOnError(f"the dataset has {n} samples, fewer than one batch ({batch_size} x {world} processes)")

    def __iter__(self):
        step = self.start
        size = self.batch_size * self.world
        while True:
            epoch, k = divmod(step, self.batches_per_epoch)
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            batch = perm[k * size:(k + 1) * size][self.rank::self.world]
            yield [(int(i), epoch) for i in batch]
            step += 1
