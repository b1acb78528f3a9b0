"""Check a dataset: open every sample once and list the files that are missing or broken."""
import logging

from tqdm import tqdm

from tryon.data.dataset import TryOnDataset
from tryon.errors import TryOnError

log = logging.getLogger(__name__)


def check_dataset(root, split="train", mode="paired", layout=None, height=256, width=192) -> tuple[int, list[str]]:
    """Load every sample of a split once; return (number of good samples, one error message per bad sample)."""
    ds = TryOnDataset(root, split, mode, layout=layout, height=height, width=width)
    errors = []
    for i in tqdm(range(len(ds)), desc=f"checking {split}", unit="sample", disable=None):
        try:
            ds[i]
        except TryOnError as e:
            errors.append(str(e))
    return len(ds) - len(errors), errors
