import os
from pathlib import Path

import pytest

torch_threads = os.environ.setdefault("OMP_NUM_THREADS", "2")

REPO = Path(__file__).resolve().parents[1]
VITON = Path(os.environ.get("TRYON_VITON", REPO.parent / "shared" / "datasets" / "viton"))


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
