"""tryon: one-pass virtual try-on (pix2pix-style GAN with a geometric warping stage)."""

from tryon.errors import DatasetError, TryOnError

__version__ = "0.1.0"
__all__ = ["TryOnError", "DatasetError", "__version__"]
