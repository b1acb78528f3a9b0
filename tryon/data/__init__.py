"""Dataset layouts (VITON, VITON-HD, DressCode), the training Dataset, and synthetic data for tests."""

from tryon.data.dataset import Augment, TryOnDataset
from tryon.data.layouts import LAYOUTS, Pair, detect_layout, read_dataset

__all__ = ["Augment", "TryOnDataset", "LAYOUTS", "Pair", "detect_layout", "read_dataset"]
