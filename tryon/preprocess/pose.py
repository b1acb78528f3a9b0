"""Body pose from a raw photo: mediapipe Pose, mapped to the 18 OpenPose (COCO) joints the models were trained with,
and the person's mask from the same pass (mediapipe's pose segmentation, at no extra cost).

mediapipe runs offline with its bundled model (`model_complexity=1`; 0 and 2 would download theirs). Its left and
right are the person's own, as in OpenPose; the neck, which mediapipe lacks, is the midpoint of the shoulders.
Joints it sees poorly (visibility below `min_visibility`) or places outside the photo are missing (all zero), as
OpenPose leaves them. The shoulders and hips, which frame the person, are kept down to a visibility of 0.1 and up
to 5% past the photo's edge (moved onto it): OpenPose reports hips at the bottom edge of many VITON photos with
confidences of 0.1-0.3, and the models were trained on those.
"""
import contextlib
import logging
import os
import sys
import threading

import numpy as np
from PIL import Image

from tryon.data.labels import J, NUM_JOINTS
from tryon.errors import TryOnError

log = logging.getLogger(__name__)

# mediapipe landmark index for each OpenPose joint (None: the neck, made from the shoulders).
MEDIAPIPE_INDEX = {
    "nose": 0, "neck": None, "r_shoulder": 12, "r_elbow": 14, "r_wrist": 16, "l_shoulder": 11, "l_elbow": 13,
    "l_wrist": 15, "r_hip": 24, "r_knee": 26, "r_ankle": 28, "l_hip": 23, "l_knee": 25, "l_ankle": 27,
    "r_eye": 5, "l_eye": 2, "r_ear": 8, "l_ear": 7,
}
TORSO_JOINTS = {"r_shoulder": "right shoulder", "l_shoulder": "left shoulder", "r_hip": "right hip", "l_hip": "left hip"}
TORSO_VISIBILITY = 0.1
EDGE_MARGIN = 0.05
DETECT_MAX_SIDE = 1024  # the photo is reduced to this before detection (mediapipe works at 256x256 inside)


@contextlib.contextmanager
def _quiet_stderr():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class PoseDetector:
    """A reusable mediapipe Pose graph (built on first use), safe to call from several threads (one at a time)."""

    def __init__(self, min_visibility: float = 0.5, min_detection_confidence: float = 0.5):
        self.min_visibility = min_visibility
        self.min_detection_confidence = min_detection_confidence
        self._pose = None
        self._lock = threading.Lock()

    def _graph(self):
        """The mediapipe graph, built and run once on a drawn person with the C++ start-up warnings (written
        straight to file descriptor 2, once per graph) kept off stderr, so a command's error stays one line."""
        if self._pose is None:
            import mediapipe as mp

            from tryon.data.synthetic import make_sample

            warm_up = make_sample(np.random.default_rng(3), (256, 192)).person
            with _quiet_stderr():
                pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True,
                                              min_detection_confidence=self.min_detection_confidence)
                pose.process(warm_up)
            self._pose = pose
        return self._pose

    def __call__(self, image: Image.Image) -> np.ndarray:
        """An RGB photo -> [18, 3] float32 joints (x, y in the photo's pixels, confidence; missing joints zero).

        Raises TryOnError when no person is found, or when the shoulders and hips are not all visible.
        """
        return self.detect(image)[0]

    def detect(self, image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """As __call__, and the person's mask: ([18, 3] joints, [h, w] float32 in [0, 1], the probability that a
        pixel is the person's, over the whole photo at the size detection ran at: at most DETECT_MAX_SIDE a side)."""
        width, height = image.size
        small = image
        if max(width, height) > DETECT_MAX_SIDE:
            scale = DETECT_MAX_SIDE / max(width, height)
            small = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR)
        pixels = np.ascontiguousarray(np.asarray(small.convert("RGB")))
        with self._lock:
            result = self._graph().process(pixels)
        if result.pose_landmarks is None:
            raise TryOnError("no person was found in the photo: use a photo of one person, facing the camera")
        landmarks = result.pose_landmarks.landmark
        pose = np.zeros((NUM_JOINTS, 3), np.float32)
        for name, k in MEDIAPIPE_INDEX.items():
            if k is not None:
                lm = landmarks[k]
                pose[J[name]] = (lm.x * width, lm.y * height, lm.visibility)
        x, y, visibility = pose.T
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        near = ((x >= -EDGE_MARGIN * width) & (x < (1 + EDGE_MARGIN) * width)
                & (y >= -EDGE_MARGIN * height) & (y < (1 + EDGE_MARGIN) * height))
        torso = np.isin(np.arange(NUM_JOINTS), [J[name] for name in TORSO_JOINTS])
        keep = np.where(torso, near & (visibility >= TORSO_VISIBILITY), inside & (visibility >= self.min_visibility))
        pose[~keep] = 0
        pose[:, 0] = np.clip(pose[:, 0], 0, width - 1)
        pose[:, 1] = np.clip(pose[:, 1], 0, height - 1)
        ls, rs = pose[J["l_shoulder"]], pose[J["r_shoulder"]]
        if ls[2] > 0 and rs[2] > 0:
            pose[J["neck"]] = ((ls[0] + rs[0]) / 2, (ls[1] + rs[1]) / 2, min(ls[2], rs[2]))
        missing = [words for name, words in TORSO_JOINTS.items() if pose[J[name], 2] == 0]
        if missing:
            raise TryOnError("the photo must show the upper body from the shoulders to the hips "
                             f"({', '.join(missing)} not visible)")
        log.debug("pose: %d of %d joints found", int((pose[:, 2] > 0).sum()), NUM_JOINTS)
        return pose, np.asarray(result.segmentation_mask, np.float32)
