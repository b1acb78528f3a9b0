"""Catalog rendering: outputs, sheets and manifest; kill and resume; bad inputs; two processes; the CLI."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tryon import catalog
from tryon.catalog import list_models, make_jobs, parse_size, render_catalog
from tryon.data.synthetic import make_sample
from tryon.errors import TryOnError
from tryon.pipeline import load_pipeline
from tryon.products import Product

REPO = Path(__file__).resolve().parents[1]
PERSON_SEEDS = (3, 5, 6, 8)  # mediapipe finds these synthetic persons at 256x192
GARMENT_SEEDS = (2, 9, 10, 11)


def _photos(folder: Path, kind: str, seeds, prefix: str, suffix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds):
        sample = make_sample(np.random.default_rng(seed), (256, 192))
        Image.fromarray(getattr(sample, kind)).save(folder / f"{prefix}{i}{suffix}")
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """(garments folder: 3 PNGs, models folder: 2 JPEGs), synthetic."""
    root = tmp_path_factory.mktemp("catalog_inputs")
    return (_photos(root / "garments", "garment", GARMENT_SEEDS[:3], "SKU-", ".png"),
            _photos(root / "models", "person", PERSON_SEEDS[:2], "model ", ".jpg"))


@pytest.fixture(scope="module")
def rendered(tiny_pipeline, inputs, tmp_path_factory):
    """A finished render of 3 garments x 2 models: (output folder, summary)."""
    out = tmp_path_factory.mktemp("catalog_out")
    return out, render_catalog(tiny_pipeline, inputs[0], inputs[1], out, batch_size=4)


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def _decodes(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except OSError:
        return False


def _check_complete(out: Path, n_jobs: int):
    """Every job has exactly one ok line, its image decodes, and no temporary file is left anywhere."""
    lines = _manifest(out)
    assert len(lines) == n_jobs and len({r["output"] for r in lines}) == n_jobs
    assert all(r["status"] == "ok" for r in lines)
    assert all(_decodes(out / r["output"]) for r in lines)
    assert not list(out.rglob("*.tmp")) and not list(out.glob("manifest.rank*"))


def test_render_outputs_sheets_and_manifest(rendered, inputs, tiny_pipeline):
    out, summary = rendered
    assert summary["jobs"] == 6 and summary["done"] == 6 and summary["failed"] == 0 and summary["skipped"] == 0
    assert summary["images_per_s"] > 0
    _check_complete(out, 6)
    lines = _manifest(out)
    assert lines[0]["output"] == "SKU-0__model-0.png"  # sorted by model, then sku; names made file-safe
    assert {"sku", "garment_image", "model_photo", "output", "status", "seconds"} <= set(lines[0])
    assert sorted(p.name for p in (out / "sheets").iterdir()) == [
        "garment_SKU-0.jpg", "garment_SKU-1.jpg", "garment_SKU-2.jpg", "model_model-0.jpg", "model_model-1.jpg"]
    # each model photo's own size, and exactly what the pipeline gives for the pair alone
    model, garment = Path(lines[0]["model_photo"]), Path(lines[0]["garment_image"])
    image = Image.open(out / lines[0]["output"])
    assert image.size == Image.open(model).size
    assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(tiny_pipeline(model, garment).images[0]))


def test_resume_skips_what_is_done(rendered, inputs, tiny_pipeline, tiny_pipeline_dir, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(rendered[0], out)
    again = render_catalog(tiny_pipeline, inputs[0], inputs[1], out, batch_size=4)
    assert (again["done"], again["skipped"], again["failed"]) == (0, 6, 0)
    (out / "SKU-1__model-0.png").unlink()  # missing
    (out / "SKU-2__model-1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # no longer decodes
    again = render_catalog(tiny_pipeline, inputs[0], inputs[1], out, batch_size=4)
    assert (again["done"], again["skipped"], again["failed"]) == (2, 4, 0)
    _check_complete(out, 6)
    # another size is another render: every job is redone, in the new format's files
    again = render_catalog(tiny_pipeline, inputs[0], inputs[1], out, fmt="jpg", size=(120, 160), quality=80)
    assert again["done"] == 6 and Image.open(out / "SKU-0__model-0.jpg").size == (120, 160)
    # so is a render in one pass instead of two averaged
    single = load_pipeline(tiny_pipeline_dir, mirror_average=False)
    again = render_catalog(single, inputs[0], inputs[1], out, fmt="jpg", size=(120, 160), quality=80)
    assert again["done"] == 6
    assert all(json.loads(line)["mirror_average"] is False for line in (out / "manifest.jsonl").open())


def test_killed_run_resumes_to_a_whole_result(tiny_pipeline_dir, tiny_pipeline, tmp_path):
    garments = _photos(tmp_path / "garments", "garment", GARMENT_SEEDS, "g", ".png")
    models = _photos(tmp_path / "models", "person", PERSON_SEEDS[:3], "m", ".png")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tryon.cli", "render", "--garments", str(garments), "--models", str(models),
           "--out", str(out), "--weights", str(tiny_pipeline_dir), "--format", "webp", "--size", "150x200",
           "--batch-size", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        deadline = time.monotonic() + 90
        while not list(out.glob("*.webp")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    # killed: every manifest line names an image that is there and whole
    lines = [json.loads(line) for line in (out / "manifest.rank0.jsonl").read_text().splitlines()]
    assert len(lines) < 12 and all(_decodes(out / r["output"]) for r in lines)
    # a torn last line and a stale temporary file, as a kill at a worse moment would leave
    with open(out / "manifest.rank0.jsonl", "a") as f:
        f.write('{"sku": "g3", "category": "upp')
    (out / ".g3__m2.webp.abc123.tmp").write_bytes(b"half an image")

    summary = render_catalog(tiny_pipeline, garments, models, out, fmt="webp", size=(150, 200), batch_size=4)
    assert summary["skipped"] == len(lines) and summary["done"] == 12 - len(lines) and summary["failed"] == 0
    _check_complete(out, 12)
    assert all(Image.open(out / r["output"]).size == (150, 200) for r in _manifest(out))


def test_bad_garment_and_bad_model_photo_fail_alone(tiny_pipeline, inputs, tmp_path, monkeypatch):
    garments = tmp_path / "garments"
    shutil.copytree(inputs[0], garments)
    (garments / "SKU-9.png").write_bytes(b"this is not a picture of a shirt")
    models = tmp_path / "models"
    shutil.copytree(inputs[1], models)
    ramp = np.tile(np.linspace(0, 255, 192, dtype=np.uint8)[None, :, None], (256, 1, 3))
    Image.fromarray(ramp).save(models / "empty room.jpg")  # no person
    framed = []
    monkeypatch.setattr(tiny_pipeline, "frame_person", lambda p, *a, **k: framed.append(Path(p).name) or
                        type(tiny_pipeline).frame_person(tiny_pipeline, p, *a, **k))

    summary = render_catalog(tiny_pipeline, garments, models, tmp_path / "out", batch_size=4)
    assert (summary["jobs"], summary["done"], summary["failed"]) == (12, 6, 6)
    assert sorted(framed) == ["empty room.jpg", "model 0.jpg", "model 1.jpg"]  # each photo framed once
    failed = {r["output"]: r["error"] for r in _manifest(tmp_path / "out") if r["status"] == "failed"}
    assert set(failed) == {f"SKU-{i}__empty-room.png" for i in (0, 1, 2, 9)} | {"SKU-9__model-0.png", "SKU-9__model-1.png"}
    assert failed["SKU-9__model-0.png"].startswith("garment image: ") and "not an image" in failed["SKU-9__model-0.png"]
    assert failed["SKU-0__empty-room.png"].startswith("person photo: no person")
    assert not (tmp_path / "out" / "SKU-9__model-0.png").exists()
    assert (tmp_path / "out" / "sheets" / "model_empty-room.jpg").is_file()


def test_garments_past_the_cache_are_framed_again_with_the_same_result(tiny_pipeline, inputs, rendered, tmp_path,
                                                                       monkeypatch):
    framed = []
    monkeypatch.setattr(tiny_pipeline, "frame_garment", lambda p, *a, **k: framed.append(Path(p).name) or
                        type(tiny_pipeline).frame_garment(tiny_pipeline, p, *a, **k))
    render_catalog(tiny_pipeline, inputs[0], inputs[1], tmp_path / "cached", batch_size=4)
    assert sorted(framed) == ["SKU-0.png", "SKU-1.png", "SKU-2.png"]  # each garment framed once, for both photos
    framed.clear()
    monkeypatch.setattr(catalog, "GARMENT_CACHE_MB", 0)  # no room: every job frames its garment
    summary = render_catalog(tiny_pipeline, inputs[0], inputs[1], tmp_path / "uncached", batch_size=4)
    assert summary["done"] == 6 and sorted(framed) == sorted(["SKU-0.png", "SKU-1.png", "SKU-2.png"] * 2)
    for record in _manifest(rendered[0]):
        assert (np.asarray(Image.open(tmp_path / "uncached" / record["output"]))
                == np.asarray(Image.open(rendered[0] / record["output"]))).all()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_cover_every_job_once(tiny_pipeline_dir, inputs, tmp_path):
    accelerate = Path(sys.executable).with_name("accelerate")
    if not accelerate.is_file():
        pytest.skip(f"no accelerate launcher next to {sys.executable}")
    out = tmp_path / "out"
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_ip", "127.0.0.1",
           "--main_process_port", str(_free_port()), str(REPO / "scripts" / "render_catalog.py"),
           "--garments", str(inputs[0]), "--models", str(inputs[1]), "--out", str(out),
           "--weights", str(tiny_pipeline_dir), "--batch-size", "2"]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=180)
    if run.returncode != 0 and "ProcessGroup" in run.stderr + run.stdout and not out.exists():
        pytest.skip(f"accelerate launch could not start 2 CPU processes here: {run.stderr[-500:]}")
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["processes"] == 2 and summary["done"] == 6 and summary["failed"] == 0  # each job rendered once
    _check_complete(out, 6)
    assert sorted(r["process"] for r in _manifest(out)) == [0, 0, 0, 1, 1, 1]


def test_inputs_and_arguments(tmp_path, inputs):
    listing = tmp_path / "models.txt"
    listing.write_text(f"# the spring shoot\n{inputs[1] / 'model 0.jpg'}\n\nmissing.jpg\n")
    assert list_models(listing) == [inputs[1] / "model 0.jpg", tmp_path / "missing.jpg"]
    listing.write_text("# none yet\n")
    with pytest.raises(TryOnError, match="no model photos"):
        list_models(listing)
    assert parse_size("768x1024") == (768, 1024) and parse_size("original") is None
    with pytest.raises(TryOnError, match="bad size"):
        parse_size("768*1024")
    clash = [Product("a b", Path("x.png"), "upper", "A"), Product("a/b", Path("y.png"), "upper", "B")]
    with pytest.raises(TryOnError, match="would write the same files"):
        make_jobs(clash, [Path("m.jpg")], "png")
    with pytest.raises(TryOnError, match="unknown format"):
        render_catalog(None, inputs[0], inputs[1], tmp_path / "out", fmt="gif")
    for i, what in enumerate(("garments", "model photos")):
        with pytest.raises(TryOnError, match=f"is the folder of the {what}"):
            render_catalog(None, inputs[0], inputs[1], inputs[i])
