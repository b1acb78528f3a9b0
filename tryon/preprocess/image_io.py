"""The one place that opens images: EXIF orientation, odd modes, size limits and truncation.

Everything else in the project calls `load_image`, so every photo, garment and dataset file is checked the same way.
"""
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tryon.errors import TryOnError
from tryon.files import atomic_write

MAX_PIXELS = 40_000_000  # a 40-megapixel phone photo is fine; a decompression bomb is not
MIN_SIDE = 32
MAX_FILE_BYTES = 64 * 1024 * 1024


def _name(source) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else "the image"


def _open(source) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or not (source.ndim == 2 or (source.ndim == 3 and source.shape[2] in (3, 4))):
            raise TryOnError(f"an image array must be uint8, HxW, HxWx3 (RGB) or HxWx4 (RGBA), not {source.dtype} "
                             f"of shape {source.shape}")
        return Image.fromarray(source)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise TryOnError("the image file is empty")
        return Image.open(io.BytesIO(source))
    if not isinstance(source, (str, os.PathLike)):
        raise TryOnError(f"an image must be a path, bytes, a PIL image or a uint8 array, not {type(source).__name__}")
    path = Path(source)
    if path.is_dir():
        raise TryOnError(f"{path}: a folder, not an image file")
    if not path.is_file():
        raise TryOnError(f"{path}: file not found")
    size = path.stat().st_size
    if size == 0:
        raise TryOnError(f"{path}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise TryOnError(f"{path}: the file is {size / 2**20:.0f} MB, more than the {MAX_FILE_BYTES // 2**20} MB allowed")
    return Image.open(path)


def _to_rgb(im: Image.Image, keep_alpha: bool) -> Image.Image:
    """Convert any mode (CMYK, 16-bit, palette, grayscale, LA/RGBA) to RGB, or RGBA when alpha is kept."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if a.max() > 255 else 255.0
        im = Image.fromarray(np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(a * (255.0 if a.max() <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8), "L")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        im = im.convert("RGBA")
        if keep_alpha:
            return im
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    return im.convert("RGBA" if keep_alpha else "RGB")


def _decode(source, max_pixels: int) -> Image.Image:
    """Open and fully decode, refusing non-images, truncation and more than `max_pixels` (checked before decoding)."""
    name = _name(source)
    try:
        im = _open(source)
        w, h = im.size
        if w * h > max_pixels:
            raise TryOnError(f"{name}: {w}x{h} is too large ({w * h / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:.0f})")
        im.load()  # decode now, so truncation and corruption surface here
        return im
    except TryOnError:
        raise
    except UnidentifiedImageError:
        raise TryOnError(f"{name}: not an image file (or a format that cannot be read)") from None
    except Image.DecompressionBombError:
        raise TryOnError(f"{name}: the image is too large to open safely") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise TryOnError(f"{name}: the image is truncated or corrupt ({e})") from None


def load_image(source, *, keep_alpha: bool = False, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """Open a path, bytes, PIL image or uint8 array (HxW, HxWx3 RGB, HxWx4 RGBA) as an upright RGB (or RGBA with
    `keep_alpha`) PIL image.

    Raises TryOnError, naming the file, for: a missing, empty, oversized or non-image file; a truncated or
    corrupt image; more than `max_pixels` pixels; a side shorter than `min_side`.
    """
    im = ImageOps.exif_transpose(_decode(source, max_pixels))
    if min(im.size) < min_side:
        raise TryOnError(f"{_name(source)}: {im.size[0]}x{im.size[1]} is too small (each side needs at least {min_side} pixels)")
    return _to_rgb(im, keep_alpha)


def load_label_map(path, *, expected_size=None) -> np.ndarray:
    """Open a label PNG (L or P mode) as a uint8 array of label indices, checking its (width, height) if given."""
    im = _decode(path, MAX_PIXELS)
    if im.mode not in ("L", "P"):
        raise TryOnError(f"{path}: a label map must be a grayscale or palette PNG, not {im.mode}")
    if expected_size is not None and im.size != tuple(expected_size):
        raise TryOnError(f"{path}: the label map is {im.size[0]}x{im.size[1]}, expected {expected_size[0]}x{expected_size[1]}")
    return np.asarray(im, dtype=np.uint8)


def load_mask(path, *, expected_size=None) -> np.ndarray:
    """Open a mask image (any mode; JPEG noise allowed) as a bool array, thresholded at half intensity."""
    im = _decode(path, MAX_PIXELS).convert("L")
    if expected_size is not None and im.size != tuple(expected_size):
        raise TryOnError(f"{path}: the mask is {im.size[0]}x{im.size[1]}, expected {expected_size[0]}x{expected_size[1]}")
    return np.asarray(im) > 127


def image_format(path) -> str:
    """The PIL format that `path`'s suffix names, or TryOnError when images cannot be written under that name."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise TryOnError(f"{path}: cannot write images of type {path.suffix or '(none)'!r}: use .png, .jpg or .webp")
    return fmt


def save_image(image: Image.Image, path, **options) -> Path:
    """Write an image atomically (a temporary file beside it, then a rename), in the format its suffix names."""
    path = Path(path)
    fmt = image_format(path)
    with atomic_write(path, "wb") as f:
        image.save(f, format=fmt, **options)
    return path
