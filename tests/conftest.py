import os
from pathlib import Path

import pytest

torch_threads = os.environ.setdefault("OMP_NUM_THREADS", "2")

REPO = Path(__file__).resolve().parents[1]
VITON = Path(os.environ.get("TRYON_VITON", REPO.parent / "shared" / "datasets" / "viton"))


def pose_of(joints: dict):
    """[18, 3] float32 joints (x, y, confidence 1) from {name: (x, y)}; the joints not named are unseen (all 0)."""
    import numpy as np

    from tryon.data.labels import NUM_JOINTS, J

    pose = np.zeros((NUM_JOINTS, 3), np.float32)
    for name, (x, y) in joints.items():
        pose[J[name]] = (x, y, 1.0)
    return pose


@pytest.fixture(scope="session")
def viton_root():
    """The real VITON data (research-only, never in the repo); tests using it skip when it is absent."""
    if not (VITON / "train_pairs.txt").is_file():
        pytest.skip(f"real VITON data not found at {VITON}")
    return VITON


@pytest.fixture(scope="session")
def synth_viton(tmp_path_factory):
    from tryon.data.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("viton"), layout="viton", n_train=8, n_test=4, seed=1)


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory):
    """A saved random-init TryOnPipeline with small channel counts (fast; behaviour tests, not quality)."""
    from tryon.pipeline import TryOnPipeline

    d = tmp_path_factory.mktemp("pipeline")
    TryOnPipeline.untrained(parser_channels=4, parser_depth=2, warp_channels=16, ngf=4).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_pipeline_dir):
    from tryon.pipeline import TryOnPipeline

    return TryOnPipeline.from_pretrained(tiny_pipeline_dir)


@pytest.fixture(scope="session")
def synthetic_person():
    """make(seed=3, size=(512, 384)) -> (person photo, garment photo), PIL: a procedural person that mediapipe finds
    (seeds 2, 3, 5, 6, 8-11 and 13-15 at 256x192, 512x384 and 1024x768) and the garment they wear."""
    import numpy as np
    from PIL import Image

    from tryon.data.synthetic import make_sample

    def make(seed=3, size=(512, 384)):
        s = make_sample(np.random.default_rng(seed), size)
        return Image.fromarray(s.person), Image.fromarray(s.garment)

    return make
