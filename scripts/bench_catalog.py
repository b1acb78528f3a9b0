#!/usr/bin/env python3
"""Catalog rendering throughput on this CPU: one process with 2 threads against two processes under
`accelerate launch` (CPU, 1 thread each), beside the reference pix2pix U-Net forward timed in the same run.

Prints JSON. Uses the default weights in weights/ when there are some, otherwise a random-init pipeline of the
default architecture (the same cost), models at their default size; synthetic 1024x768 model photos (JPEG) and
garment photos, PNG outputs at the photo's size. Each run renders every garment on every model into a fresh folder
through `tryon render` in a subprocess: `images_per_s` is the render's own (from its summary: framing, parsing,
models, paste, saving, manifest), `wall_s` adds start-up (imports, loading the weights) and the contact sheets,
`peak_rss_mb` is the peak resident memory of its largest process.
Usage: scripts/bench_catalog.py [--models 2] [--garments 16] [--batch-size 8]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tryon.data.synthetic import make_sample
from tryon.pipeline import DEFAULT_WEIGHTS, TryOnPipeline

REPO = Path(__file__).resolve().parents[1]
REF = REPO.parent / "shared" / "bench"
PERSON_SEEDS = (3, 6, 9, 10, 11, 13, 14, 15)  # synthetic persons mediapipe finds at 1024x768


def write_inputs(root: Path, n_models: int, n_garments: int) -> tuple[Path, Path]:
    models, garments = root / "models", root / "garments"
    models.mkdir()
    garments.mkdir()
    for i in range(n_models):
        sample = make_sample(np.random.default_rng(PERSON_SEEDS[i % len(PERSON_SEEDS)]), (1024, 768))
        Image.fromarray(sample.person).save(models / f"model{i}.jpg", quality=95)
    for i in range(n_garments):
        sample = make_sample(np.random.default_rng(100 + i), (1024, 768))
        Image.fromarray(sample.garment).save(garments / f"sku{i:03d}.png")
    return garments, models


def run(cmd: list[str], env: dict) -> dict:
    """Run one render command; its summary plus the wall time and the peak RSS of its largest process (the
    render's own, or under accelerate the largest of the launcher's processes)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env={**os.environ, **env}, cwd=REPO)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage (and its waited-for descendants')
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        sys.exit(f"render failed ({child.returncode}):\n{stderr[-3000:]}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    return {"images_per_s": summary["images_per_s"], "render_s": summary["seconds"], "wall_s": round(wall, 2),
            "done": summary["done"], "processes": summary["processes"], "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def bench(tmp: Path, a) -> dict:
    """Both renders in `tmp`, then the reference forward; the result dict."""
    trained = (DEFAULT_WEIGHTS / "model_index.json").is_file()
    weights = DEFAULT_WEIGHTS if trained else tmp / "untrained"
    if not trained:
        TryOnPipeline.untrained().save_pretrained(weights)
    garments, models = write_inputs(tmp, a.models, a.garments)
    args = ["--garments", str(garments), "--models", str(models), "--weights", str(weights),
            "--batch-size", str(a.batch_size)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    accelerate = [str(Path(sys.executable).with_name("accelerate")), "launch", "--multi_gpu", "--num_processes", "2",
                  "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                  "--main_process_ip", "127.0.0.1", "--main_process_port", str(port),
                  str(REPO / "scripts" / "render_catalog.py")]
    load = os.getloadavg()[0]
    one = run([sys.executable, "-m", "tryon.cli", "render", *args, "--out", str(tmp / "one")],
              {"OMP_NUM_THREADS": "2"})
    two = run([*accelerate, *args, "--out", str(tmp / "two")], {"OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true"})
    config = json.loads((weights / "generator" / "config.json").read_text())
    result = {
        "pipeline": str(weights) if trained else "random init, default architecture (no trained weights)",
        "model_size": [config["height"], config["width"]],
        "photo": "1024x768 JPEG", "output": "PNG, photo size", "jobs": a.models * a.garments,
        "batch_size": a.batch_size, "load_average_at_start": round(load, 2),
        "one_process_2_threads": one, "two_processes_1_thread_each": two,
        "speedup_two_vs_one": round(two["images_per_s"] / one["images_per_s"], 2),
    }
    if (REF / "ref_step.py").is_file():
        sys.path.insert(0, str(REF))
        from ref_step import time_reference

        ref = time_reference(threads=2)
        result["reference"] = ref
        result["ref_forwards_per_image"] = {k: round(1 / (v["images_per_s"] * ref["ref_forward_s"]), 2)
                                            for k, v in (("one_process", one), ("two_processes", two))}
    else:
        result["reference"] = f"skipped: {REF / 'ref_step.py'} not found"
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=int, default=2)
    p.add_argument("--garments", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=8)
    a = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_catalog_") as folder:
        result = bench(Path(folder), a)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
