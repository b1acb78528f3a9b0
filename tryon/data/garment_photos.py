"""Training and test samples for the garment segmenter: garments laid on floors, beds, carpets and streets.

A sample is {"image": [3, H, W] in [-1, 1], "labels": [H, W] long (0 background, 1 garment), "name"}.

Garments come with their exact masks: VITON's flat product shots (tops) and the trousers, shorts, skirts and
dresses worn in CCP's street photos, cut out by their labels. Each is laid, at a random size, angle and place,
with a soft shadow, over a background with nobody and no garment in it: the street beside CCP's persons, or a
drawn texture (carpet, wood, striped or checked sheets, tiles, a plain or graded colour); then the whole photo
gets the lighting, colour, blur and JPEG of a phone picture. With `augment=False` the draw is fixed by the index
(a test set that is the same every time).
"""
import numpy as np
import torch
from scipy import ndimage

from tryon.data.ccp import CCPPhoto, load_ccp
from tryon.data.dataset import to_tensor
from tryon.data.labels import P
from tryon.data.layouts import Pair
from tryon.data.parsing import Backgrounds, photometric, warp_to_box
from tryon.errors import DatasetError, TryOnError
from tryon.preprocess.image_io import load_image, load_mask

CCP_GARMENTS = (P["lower"], P["dress"])  # what a CCP photo gives as a garment (its tops are VITON's job)
MIN_CCP_GARMENT = 0.04  # of the photo: a smaller worn garment is too hidden to make a garment photo of
MIN_MASK = 0.01  # of a garment photo: a smaller mask is a broken one (ten of VITON's 6,824 garments)


def texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A drawn background [H, W, 3] uint8: carpet-like noise, wood grain, stripes or checks, tiles, or a plain
    light surface."""
    base, other = rng.integers(30, 235, size=(2, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    kind = rng.integers(5)
    if kind == 0:  # carpet: coarse blotches and fine fibres
        coarse = ndimage.gaussian_filter(rng.standard_normal((height, width)), rng.uniform(4, 16))
        fine = rng.standard_normal((height, width))
        t = np.clip(0.5 + coarse / (coarse.std() + 1e-6) * 0.25 + fine * rng.uniform(0.05, 0.2), 0, 1)
    elif kind == 1:  # wood: wavy grain along one axis
        axis = xx if rng.random() < 0.5 else yy
        warp_ = ndimage.gaussian_filter(rng.standard_normal((height, width)), 12) * rng.uniform(20, 60)
        t = 0.5 + 0.5 * np.sin((axis + warp_) * rng.uniform(0.15, 0.6))
    elif kind == 2:  # sheets: stripes or checks
        period = rng.uniform(6, 40)
        t = (np.sin(xx * 2 * np.pi / period) > 0).astype(np.float32)
        if rng.random() < 0.5:
            t = np.abs(t - (np.sin(yy * 2 * np.pi / period) > 0))
    elif kind == 3:  # tiles or boards: lines on a grid
        period = rng.uniform(20, 80)
        t = 1.0 - ((xx % period < 2) | (yy % period < 2)).astype(np.float32)
    else:  # a plain light surface (a white sheet, a pale floor): soft shading and a fine weave only
        base = rng.uniform(170, 250) * np.ones(3, np.float32) + rng.uniform(-12, 12, size=3)
        other = base * rng.uniform(0.8, 0.95)
        shade = ndimage.gaussian_filter(rng.standard_normal((height, width)), rng.uniform(15, 40))
        t = np.clip(0.8 + shade / (shade.std() + 1e-6) * 0.15 + rng.standard_normal((height, width)) * 0.05, 0, 1)
    rgb = base * t[..., None] + other * (1 - t[..., None])
    return np.clip(rgb + rng.normal(0, 4, size=rgb.shape), 0, 255).astype(np.uint8)


def _viton_garment(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    try:
        cloth = load_image(pair.cloth)
        mask = load_mask(pair.cloth_mask, expected_size=cloth.size)
    except TryOnError as e:
        raise DatasetError(str(e)) from None
    # VITON's masks reach a pixel or two past the garment onto its white: taken off, or the white rim would teach
    # the segmenter an edge no phone photo has
    return np.asarray(cloth), ndimage.binary_erosion(ndimage.binary_opening(mask, iterations=1), iterations=2)


def _ccp_garment(item: CCPPhoto) -> tuple[np.ndarray, np.ndarray] | None:
    """The largest of a CCP photo's lower garment or dress, as (RGB, mask) cropped to it; None if too small."""
    rgb, labels = load_ccp(item)
    areas = [(labels == label).mean() for label in CCP_GARMENTS]
    if max(areas) < MIN_CCP_GARMENT:
        return None
    mask = labels == CCP_GARMENTS[int(np.argmax(areas))]
    mask = ndimage.binary_closing(mask, iterations=2)  # small gaps where a hand or a strap crossed it
    ys, xs = np.nonzero(mask)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    return rgb[box], mask[box]


class GarmentPhotoDataset(torch.utils.data.Dataset):
    """Garments (VITON pairs' cloth and cloth masks; CCP photos' worn bottoms and dresses) laid on backgrounds."""

    def __init__(self, viton: list[Pair] = (), ccp: list[CCPPhoto] = (), *, height: int = 256, width: int = 192,
                 backgrounds: Backgrounds | None = None, augment: bool = True, seed: int = 0):
        self.items = [("viton", p) for p in viton if p.cloth_mask is not None] + [("ccp", c) for c in ccp]
        if not self.items:
            raise DatasetError("the garment dataset is empty: give VITON pairs (with cloth masks), CCP photos or both")
        self.height, self.width = height, width
        self.backgrounds = backgrounds or Backgrounds()
        self.augment, self.seed = augment, seed

    def __len__(self) -> int:
        return len(self.items)

    def _background(self, rng) -> np.ndarray:
        if rng.random() < 0.5:
            return texture(rng, self.height, self.width)
        return self.backgrounds.draw(rng, self.width, self.height)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        rng = np.random.default_rng([self.seed, epoch if self.augment else 0, index])
        kind, item = self.items[index]
        garment = _viton_garment(item) if kind == "viton" else _ccp_garment(item)
        if garment is None or garment[1].mean() < MIN_MASK:  # no garment (or a broken mask): the background alone
            return self._sample(self._background(rng), np.zeros((self.height, self.width), bool), rng, item)
        rgb, mask = garment
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        # the garment's box fills 40-95% of the frame's height (or width), at an angle, somewhere in the frame
        fill = rng.uniform(0.4, 0.95)
        scale = fill * min(self.height / (y1 - y0), self.width / (x1 - x0))
        out_h, out_w = self.height / scale, self.width / scale  # the frame, in garment-photo pixels
        cx = (x0 + x1) / 2 + rng.uniform(-0.5, 0.5) * max(out_w - (x1 - x0), 0)
        cy = (y0 + y1) / 2 + rng.uniform(-0.5, 0.5) * max(out_h - (y1 - y0), 0)
        box = (cx - out_w / 2, cy - out_h / 2, cx + out_w / 2, cy + out_h / 2)
        angle = rng.uniform(-25, 25) if rng.random() < 0.6 else 0.0
        g_rgb, g_mask = warp_to_box(rgb, mask.astype(np.uint8), box, angle, self.width, self.height, 0)
        g_mask = g_mask.astype(bool)
        background = self._background(rng).astype(np.float32)
        if rng.random() < 0.6:  # a soft shadow under the garment, offset toward a light
            dy, dx = rng.integers(-6, 7, size=2)
            shadow = ndimage.gaussian_filter(np.roll(g_mask, (dy, dx), (0, 1)).astype(np.float32), rng.uniform(2, 6))
            background *= 1 - rng.uniform(0.2, 0.5) * shadow[..., None]
        alpha = ndimage.gaussian_filter(g_mask.astype(np.float32), 0.6)[..., None]
        image = g_rgb.astype(np.float32) * alpha + background * (1 - alpha)
        return self._sample(np.clip(image + 0.5, 0, 255).astype(np.uint8), g_mask, rng, item)

    def _sample(self, image: np.ndarray, mask: np.ndarray, rng, item) -> dict:
        if rng.random() < 0.5:  # light falling across the photo
            ramp = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(1.0, 1.3), self.width if rng.random() < 0.5
                               else self.height, dtype=np.float32)
            ramp = ramp[None, :, None] if len(ramp) == self.width else ramp[:, None, None]
            image = np.clip(image * ramp, 0, 255).astype(np.uint8)
        if self.augment and rng.random() < 0.5:
            image, mask = image[:, ::-1], mask[:, ::-1]
        image = photometric(np.ascontiguousarray(image), rng)
        name = item.name if isinstance(item, CCPPhoto) else item.cloth.stem
        return {"image": to_tensor(image), "labels": torch.from_numpy(np.ascontiguousarray(mask).astype(np.int64)),
                "name": name}
