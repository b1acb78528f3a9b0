#!/usr/bin/env python3
"""Inference latency of the whole try-on on this CPU, beside the reference pix2pix U-Net forward timed in the same run.

Prints JSON: for a 1024x768 person photo (a synthetic person, JPEG on disk) and a garment photo, the median seconds
per stage after warm-up (preprocess = load + pose + crop + parse + agnostic, with load and pose also alone; warp;
generate; compose, the try-on at the crop's size in the photo; paste; warp and generate run once more on the
mirrored input under mirror averaging, the default) and
end to end, with mirror averaging and in a single pass; batched throughput (images/s at batch 4 and 8, both ways);
peak RSS of the process before the reference runs; and every time as a ratio to the reference U-Net-256 forward
(../shared/bench/ref_step.py).
Uses the default weights in weights/ when there are some, otherwise random-init models of the default config.
Usage: scripts/bench_infer.py [--threads 2] [--runs 10] [--weights DIR]
"""
import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tryon.data.synthetic import make_sample
from tryon.pipeline import DEFAULT_WEIGHTS, Render, TryOnPipeline
from tryon.preprocess.image_io import load_image

REPO = Path(__file__).resolve().parents[1]
REF = REPO.parent / "shared" / "bench"
PHOTO_SEED = 3  # a synthetic person that mediapipe finds at 1024x768


def median_time(fn, runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def stage_times(pipe, person, garment, runs: int) -> dict:
    """Median seconds of each pipeline step, run in order as __call__ runs them."""
    laps = {k: [] for k in ("preprocess", "warp", "generate", "compose", "paste")}
    with torch.inference_mode():
        for i in range(runs + 2):
            t0 = time.perf_counter()
            batch = pipe.represent([pipe.frame(person, garment)], ["upper"])
            t1 = time.perf_counter()
            warped = pipe.warp_parts(batch)
            t2 = time.perf_counter()
            out = pipe.generate(batch, warped.image, warped.mask)
            t3 = time.perf_counter()
            composites = pipe.compose(batch, Render(out.image, out.rendered, out.mask, *warped))
            t4 = time.perf_counter()
            pipe.paste_composites(batch, composites)
            t5 = time.perf_counter()
            if i >= 2:
                for k, a, b in (("preprocess", t0, t1), ("warp", t1, t2), ("generate", t2, t3), ("compose", t3, t4),
                                ("paste", t4, t5)):
                    laps[k].append(b - a)
    return {k: statistics.median(v) for k, v in laps.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    trained = (Path(a.weights) / "model_index.json").is_file()
    pipe = TryOnPipeline.from_pretrained(a.weights) if trained else TryOnPipeline.untrained()
    tmp = Path(tempfile.mkdtemp())
    sample = make_sample(np.random.default_rng(PHOTO_SEED), (1024, 768))
    person, garment = tmp / "person.jpg", tmp / "garment.jpg"
    Image.fromarray(sample.person).save(person, quality=95)
    Image.fromarray(sample.garment).save(garment, quality=95)

    seconds = stage_times(pipe, person, garment, a.runs)
    photo = load_image(person)
    seconds["load"] = median_time(lambda: load_image(person), a.runs)
    seconds["pose"] = median_time(lambda: pipe.pose_detector(photo), a.runs)
    seconds["end_to_end"] = median_time(lambda: pipe(person, garment), a.runs)
    seconds["end_to_end_single_pass"] = median_time(lambda: pipe(person, garment, mirror_average=False), a.runs)
    throughput = {"batch_1": round(1 / seconds["end_to_end"], 2),
                  "batch_1_single_pass": round(1 / seconds["end_to_end_single_pass"], 2)}
    for b in (4, 8):
        for name, mirror in (("", True), ("_single_pass", False)):
            run = lambda: pipe([person] * b, [garment] * b, mirror_average=mirror)
            throughput[f"batch_{b}{name}"] = round(b / median_time(run, 3, 1), 2)
    peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    result = {
        "weights": a.weights if trained else "random init (default config)",
        "photo": "1024x768 JPEG", "model_size": list(pipe.size), "threads": a.threads, "runs": a.runs,
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "images_per_s": throughput, "peak_rss_mb": peak_rss_mb,
        "params_m": {n: round(sum(p.numel() for p in getattr(pipe, n).parameters()) / 1e6, 2)
                     for n in ("parser", "warp", "generator")},
    }
    if (REF / "ref_step.py").is_file():
        sys.path.insert(0, str(REF))
        from ref_step import time_reference

        ref = time_reference(threads=a.threads)
        result["reference"] = ref
        result["ratio_to_ref_forward"] = {k: round(v / ref["ref_forward_s"], 2) for k, v in seconds.items()}
        result["images_per_ref_forward"] = {k: round(v * ref["ref_forward_s"], 2) for k, v in throughput.items()}
    else:
        result["reference"] = f"skipped: {REF / 'ref_step.py'} not found"
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
