#!/usr/bin/env python3
"""Training throughput per stage at 256x192 on this machine, beside the reference pix2pix step timed in the same run.

Prints JSON: for each stage (parser; warp as TPS alone, with one flow refiner and with the two-refiner cascade of
viton_warp.toml, bf16; generator, also with bf16 autocast) the median seconds per
training step at the stage's batch size after warm-up, images/s, peak RSS of a process doing only that, and the
ratio of images/s to the reference pix2pix training step (../shared/bench/ref_step.py). Batches come from a
synthetic dataset already in memory, so this measures the model step, not data loading. On an x86 CPU without
AVX-512 the bf16 cases run in float32, as training does there (`precision` says which ran, `cpu` the CPU's level).
Usage: scripts/bench_train.py [--threads 2] [--steps 5]
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REF = REPO.parent / "shared" / "bench"


def peak_rss_mb() -> int:
    """This process's own peak resident memory (VmHWM). Not ru_maxrss: Linux carries that across fork and exec, so a
    case started from this script would report this script's peak (the reference model's) instead of its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    raise RuntimeError("no VmHWM in /proc/self/status")
# (stage, batch size, mixed precision, the warp's flow refiner channels, flow refiners in cascade)
CASES = [("parser", 8, "no", 0, 1), ("warp", 8, "no", 0, 1), ("warp", 8, "bf16", 32, 1), ("warp", 8, "bf16", 32, 2),
         ("generator", 4, "no", 0, 1), ("generator", 4, "bf16", 0, 1)]


def one(stage: str, batch_size: int, precision: str, flow: int, flow_stages: int, steps: int, threads: int) -> dict:
    import torch
    from accelerate import Accelerator

    from tryon.data import TryOnDataset
    from tryon.data.synthetic import make_synthetic_dataset
    from tryon.models import GeometricMatcher
    from tryon.training.config import TrainConfig
    from tryon.training.stages import STAGES
    from tryon.training.trainer import _collate, cpu_bf16_is_emulated

    torch.set_num_threads(threads)
    if precision == "bf16" and cpu_bf16_is_emulated():
        precision = "no"  # as training itself falls back: bf16 is emulated, many times slower, on this CPU
    tmp = Path(tempfile.mkdtemp())
    data = make_synthetic_dataset(tmp / "data", n_train=batch_size, n_test=1)
    GeometricMatcher().save_pretrained(tmp / "warp")
    cfg = TrainConfig(stage=stage, data=str(data), batch_size=batch_size, mixed_precision=precision,
                      warp_model=str(tmp / "warp"), output_dir=str(tmp / "run"), warp_flow_channels=flow,
                      warp_flow_stages=flow_stages)
    stage_obj = STAGES[stage](cfg, Accelerator(mixed_precision=precision, cpu=True))
    ds = TryOnDataset(data, "train")
    batch = _collate([ds[i] for i in range(batch_size)])
    times = []
    for i in range(steps + 2):
        t = time.perf_counter()
        stage_obj.training_step(batch, i + 1)
        times.append(time.perf_counter() - t)
    step_s = statistics.median(times[2:])
    return {"stage": stage, "precision": precision, "cpu": torch.backends.cpu.get_cpu_capability(),
            "batch_size": batch_size, "flow_channels": flow, "flow_stages": flow_stages,
            "step_s": round(step_s, 4),
            "images_per_s": round(batch_size / step_s, 2),
            "peak_rss_mb": peak_rss_mb()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    a = p.parse_args()
    if a.case:
        stage, bs, precision, flow, flow_stages = a.case.split(":")
        print(json.dumps(one(stage, int(bs), precision, int(flow), int(flow_stages), a.steps, a.threads)))
        return
    result = {"threads": a.threads, "size": "256x192"}
    ref = None
    if (REF / "ref_step.py").is_file():
        sys.path.insert(0, str(REF))
        from ref_step import time_reference

        ref = time_reference(threads=a.threads)
        result["reference"] = ref
    else:
        result["reference"] = f"not found at {REF}: no ratios"
    result["stages"] = []
    for stage, bs, precision, flow, flow_stages in CASES:
        out = subprocess.run([sys.executable, __file__, "--case", f"{stage}:{bs}:{precision}:{flow}:{flow_stages}",
                              "--steps", str(a.steps), "--threads", str(a.threads)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if ref:
            r["ratio_to_reference_images_per_s"] = round(r["images_per_s"] / ref["ref_train_images_per_s"], 2)
        result["stages"].append(r)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
