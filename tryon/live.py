"""Live try-on of webcam frames, fast enough to follow a shopper on a laptop CPU.

Every frame is framed as a photo try-on is (pose, crop), and the cloth-agnostic person, the generator and the paste
run on it, so the face, the hands and the room stay live. The two steps that depend only on the body's shape, the
body parse and the warped garment (about two thirds of a try-on's time), are computed on a key frame and reused on
the next frames while the pose, in the crop's own pixels, stays within `still_px` of the key frame's. The crop
follows the person, so a shopper who steps sideways or leans in keeps the key frame; one who raises an arm gets a
new one. One pass (no mirror averaging); each garment is framed once.
"""
import hashlib
import logging
import os
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from tryon.data.labels import J
from tryon.errors import TryOnError
from tryon.pipeline import Framed, FramedGarment, TryOnPipeline
from tryon.preprocess.image_io import load_image

log = logging.getLogger(__name__)

STILL_PX = 8.0  # mean joint movement (pixels of the models' 256x192 crop, about 3% of its height) to reuse a key frame
FRAMING_JOINTS = [J[name] for name in ("r_shoulder", "l_shoulder", "r_hip", "l_hip")]
RATE_FRAMES = 10  # the rate shown is over this many frames
NO_GARMENT = "No garment yet: pick one from the catalog on the Try on tab, or upload one there."


@dataclass
class LiveFrame:
    """One frame's outcome: the try-on (or the frame itself when there is none) and what to tell the shopper."""

    image: Image.Image
    status: str
    tried_on: bool


@dataclass
class _KeyFrame:
    garment: str
    category: str
    pose: np.ndarray  # [18, 3] in the crop's pixels
    parse: np.ndarray  # [1, H, W] labels
    warped: torch.Tensor
    warped_mask: torch.Tensor


class LiveTryOn:
    """One shopper's webcam session: call it on each frame with the garment and category chosen."""

    def __init__(self, pipe: TryOnPipeline, still_px: float = STILL_PX):
        self.pipe, self.still_px = pipe, still_px
        self._garment: tuple[str, FramedGarment] | None = None
        self._key: _KeyFrame | None = None
        self._seconds = deque(maxlen=RATE_FRAMES)
        self.key_frames = 0  # how many frames ran the parse and the warp (the rest reused a key frame's)

    def __call__(self, frame, garment, category: str) -> LiveFrame:
        """`frame`: the webcam image (path, bytes, PIL or array); `garment`: the garment photo (the same types), or
        None when none is chosen yet. A frame that cannot be tried on (nobody in view, the torso cut off, a broken
        garment file, no garment) comes back as itself with the reason, so the stream goes on; only a frame that is
        not an image raises TryOnError."""
        start = time.perf_counter()
        frame = load_image(frame)
        if garment is None:
            return LiveFrame(frame, NO_GARMENT, False)
        try:
            name, framed_garment = self._framed_garment(garment)
            person = self.pipe.frame_person(frame, category=category)
        except TryOnError as e:
            self._key = None
            return LiveFrame(frame, str(e), False)
        framed = Framed(**vars(person), **vars(framed_garment))
        moved = self._movement(person.pose, name, category)
        key = self._key if moved < self.still_px else None
        batch = self.pipe.represent([framed], [category], parse=None if key is None else key.parse)
        if key is None:
            warped, warped_mask = self.pipe.warp_garment(batch)
            key = self._key = _KeyFrame(name, category, person.pose, batch["parse"].to(torch.uint8).cpu().numpy(),
                                        warped, warped_mask)
            self.key_frames += 1
            log.debug("key frame %d (the pose moved %.1f px)", self.key_frames, moved)
        rendered = self.pipe.generate(batch, key.warped, key.warped_mask).image
        image = self.pipe.paste(batch, rendered, key.warped_mask)[0][0]
        self._seconds.append(time.perf_counter() - start)
        return LiveFrame(image, self.rate(), True)

    def rate(self) -> str:
        """The try-on rate over the last frames, as the page shows it."""
        seconds = sum(self._seconds) / len(self._seconds)
        return f"{1 / seconds:.1f} frames/s ({1000 * seconds:.0f} ms a frame)"

    def _framed_garment(self, garment) -> tuple[str, FramedGarment]:
        """The garment framed for the models, once per garment: (its identity, the framed garment)."""
        if isinstance(garment, (str, os.PathLike)):
            name = os.fspath(garment)
        else:
            name = hashlib.sha1(_bytes(garment)).hexdigest()
        if self._garment is None or self._garment[0] != name:
            self._garment = (name, self.pipe.frame_garment(garment))
        return self._garment

    def _movement(self, pose: np.ndarray, garment: str, category: str) -> float:
        """How far the pose has moved since the key frame: the mean movement of the joints seen in both, in the
        crop's pixels; infinite without a key frame for this garment and category, or when a shoulder or hip
        (which frame the crop) is not seen in both."""
        key = self._key
        if key is None or key.garment != garment or key.category != category:
            return float("inf")
        seen = (pose[:, 2] > 0) & (key.pose[:, 2] > 0)
        if not seen[FRAMING_JOINTS].all():
            return float("inf")
        return float(np.linalg.norm(pose[seen, :2] - key.pose[seen, :2], axis=1).mean())


def _bytes(garment) -> bytes:
    """A garment given as data (bytes, PIL image or array), as bytes to tell one garment from another."""
    if isinstance(garment, bytes):
        return garment
    return np.ascontiguousarray(garment).tobytes() + str(np.shape(garment)).encode()
