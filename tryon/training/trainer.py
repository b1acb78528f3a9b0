"""One accelerate training loop for every stage: checkpoints, resume, validation, samples, logging.

Run it directly (`tryon train ...`) or under `accelerate launch` for several GPUs or CPU processes. Checkpoints
(models, optimizers, EMA, RNG states and the step) go to OUTPUT/checkpoints/step_NNNNNNN, written to a temporary
folder and renamed, so a kill never leaves a half-written one; `resume` continues from the newest, replaying the
same batches as an uninterrupted run would see. OUTPUT/model holds the final model, OUTPUT/best the best one by
validation, OUTPUT/val.jsonl every validation, OUTPUT/samples the sample grids, OUTPUT/logs tensorboard.
"""
import dataclasses
import json
import logging
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed

from tryon.data.ccp import read_ccp
from tryon.data.dataset import Augment, TryOnDataset
from tryon.data.garment_photos import GarmentPhotoDataset
from tryon.data.layouts import read_dataset
from tryon.data.parsing import Backgrounds, ParserDataset, ccp_background_strips
from tryon.errors import TryOnError
from tryon.training.config import TrainConfig
from tryon.training.sampler import StepBatchSampler
from tryon.training.stages import STAGES

log = logging.getLogger(__name__)
_CKPT = re.compile(r"^step_(\d{7})$")


def latest_checkpoint(output_dir) -> Path | None:
    """The newest complete checkpoint folder (temporary ones are ignored)."""
    d = Path(output_dir) / "checkpoints"
    done = sorted(p for p in d.glob("step_*") if _CKPT.match(p.name)) if d.is_dir() else []
    return done[-1] if done else None


def _collate(items):
    out = torch.utils.data.default_collate([{k: v for k, v in it.items() if isinstance(v, torch.Tensor)} for it in items])
    for key in items[0].keys() - out.keys():  # names, categories: one list each
        out[key] = [it[key] for it in items]
    return out


def cpu_bf16_is_emulated() -> bool:
    """Whether this is an x86 CPU without AVX-512 (torch's capability AVX2 or less), where oneDNN emulates bf16:
    measured on a 2-core AVX2 EPYC (scripts/bench_train.py), a generator step took 59 s under bf16 autocast against
    2.5 s in float32."""
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "NO AVX")


def parser_datasets(cfg: TrainConfig):
    """The parser's training and validation sets: the paired persons of `cfg.data` (if any) and the train split of
    `cfg.ccp` (if any), over the photos of `cfg.backgrounds` and the CCP photos' street strips; validation on the
    CCP val split framed as the pipeline frames a person (`cfg.parser_framing`: head to hips, or head to feet), or on
    `cfg.data`'s `val_split` without CCP."""
    if not cfg.data and not cfg.ccp:
        raise TryOnError("the parser needs data: a dataset folder (--data), a CCP folder (ccp), or both")
    viton = read_dataset(cfg.data, "train", "paired", cfg.layout) if cfg.data else []
    ccp = read_ccp(cfg.ccp, "train") if cfg.ccp else []
    photos = sorted(p for p in Path(cfg.backgrounds).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")) \
        if cfg.backgrounds else []
    backgrounds = Backgrounds(photos + ccp_background_strips(ccp))
    train = ParserDataset(viton, ccp, height=cfg.height, width=cfg.width, augment=cfg.augment,
                          backgrounds=backgrounds, framing=cfg.parser_framing, seed=cfg.seed, ccp_repeat=cfg.ccp_repeat,
                          studio=cfg.viton_studio)
    if cfg.ccp:
        val = ParserDataset(ccp=read_ccp(cfg.ccp, "val"), height=cfg.height, width=cfg.width, augment=False,
                            framing=cfg.parser_framing)
    else:
        try:
            val = ParserDataset(read_dataset(cfg.data, cfg.val_split, "paired", cfg.layout), height=cfg.height,
                                width=cfg.width, augment=False)
        except TryOnError as e:
            log.warning("no validation: %s", e)
            return train, None
    return train, torch.utils.data.Subset(val, range(min(cfg.val_samples, len(val))))


def garment_datasets(cfg: TrainConfig):
    """The garment segmenter's training and validation sets: the garments of `cfg.data`'s train split (and the
    bottoms and dresses of `cfg.ccp`'s) on drawn textures and the streets beside CCP's persons; validation on the
    `val_split` garments (and CCP's val split) over the streets of CCP's val photos, a fixed draw."""
    if not cfg.data:
        raise TryOnError("the garment segmenter needs a dataset with garment masks (--data)")
    ccp_train = read_ccp(cfg.ccp, "train") if cfg.ccp else []
    ccp_val = read_ccp(cfg.ccp, "val") if cfg.ccp else []
    train = GarmentPhotoDataset(read_dataset(cfg.data, "train", "paired", cfg.layout), ccp_train, height=cfg.height,
                                width=cfg.width, backgrounds=Backgrounds(ccp_background_strips(ccp_train)),
                                augment=cfg.augment, seed=cfg.seed)
    val = GarmentPhotoDataset(read_dataset(cfg.data, cfg.val_split, "paired", cfg.layout), ccp_val, height=cfg.height,
                              width=cfg.width, backgrounds=Backgrounds(ccp_background_strips(ccp_val)), augment=False,
                              seed=cfg.seed + 1)
    return train, torch.utils.data.Subset(val, np.random.default_rng(0).permutation(len(val))[:cfg.val_samples])


def street_backgrounds(cfg: TrainConfig) -> Backgrounds | None:
    """The warp's and generator's street photos (`cfg.street` > 0): the strips beside the persons of `cfg.ccp`'s
    train split. None when `cfg.street` is 0."""
    if cfg.street <= 0:
        return None
    if not cfg.ccp:
        raise TryOnError("street > 0 lays persons over the streets of CCP photos: set ccp to a CCP folder")
    return Backgrounds(ccp_background_strips(read_ccp(cfg.ccp, "train")))


class Trainer:
    def __init__(self, cfg: TrainConfig, dataset=None, val_dataset=None):
        if cfg.mixed_precision == "bf16" and not torch.cuda.is_available() and cpu_bf16_is_emulated():
            log.warning("bf16 autocast would be many times slower than float32 on this CPU (%s, no AVX-512): "
                        "training in float32", torch.backends.cpu.get_cpu_capability())
            cfg = dataclasses.replace(cfg, mixed_precision="no")
        self.cfg = cfg
        self.out = Path(cfg.output_dir)
        self.acc = Accelerator(
            mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.grad_accum, log_with="tensorboard",
            project_config=ProjectConfiguration(project_dir=str(self.out), logging_dir=str(self.out / "logs")),
        )
        set_seed(cfg.seed)  # model initialisation
        if dataset is None and cfg.stage in ("parser", "garment"):
            dataset, val_dataset = (parser_datasets if cfg.stage == "parser" else garment_datasets)(cfg)
        if dataset is None:
            pairs = read_dataset(cfg.data, "train", "paired", cfg.layout)
            if cfg.extra_data:  # e.g. street tops (prepare-ccp --categories upper) beside VITON's studio ones
                pairs += read_dataset(cfg.extra_data, "train", "paired") * cfg.extra_repeat
            augment = (Augment(grow_agnostic=cfg.grow_agnostic, street=cfg.street, lengthen=cfg.lengthen)
                       if cfg.augment else None)
            backgrounds = street_backgrounds(cfg) if augment else None  # street draws only in augmentation
            dataset = TryOnDataset(pairs=pairs, height=cfg.height, width=cfg.width, augment=augment, seed=cfg.seed,
                                   cloth_masks=cfg.cloth_masks, backgrounds=backgrounds)
        self.dataset = dataset
        self.val_dataset = val_dataset if val_dataset is not None else self._val_dataset()
        self.stage = STAGES[cfg.stage](cfg, self.acc)
        self.step = 0

    def _val_dataset(self):
        cfg = self.cfg
        try:
            ds = TryOnDataset(cfg.data, cfg.val_split, "paired", layout=cfg.layout, height=cfg.height, width=cfg.width,
                              cloth_masks=cfg.cloth_masks)
        except TryOnError as e:
            log.warning("no validation: %s", e)
            return None
        return torch.utils.data.Subset(ds, range(min(cfg.val_samples, len(ds))))

    # checkpoints -------------------------------------------------------------------------------------------
    def save_checkpoint(self):
        final = self.out / "checkpoints" / f"step_{self.step:07d}"
        tmp = final.with_name(final.name + ".tmp")
        if self.acc.is_main_process and tmp.exists():
            shutil.rmtree(tmp)
        self.acc.wait_for_everyone()
        self.acc.save_state(str(tmp))
        if self.acc.is_main_process:
            (tmp / "trainer_state.json").write_text(json.dumps({"step": self.step, "config": dataclasses.asdict(self.cfg)}, indent=1))
            tmp.rename(final)
            for old in sorted(p for p in final.parent.glob("step_*") if _CKPT.match(p.name))[: -self.cfg.keep_checkpoints]:
                shutil.rmtree(old)
        self.acc.wait_for_everyone()

    def resume(self):
        ckpt = latest_checkpoint(self.out)
        if ckpt is None:
            log.info("no checkpoint in %s: starting from step 0", self.out)
            return
        self.acc.load_state(str(ckpt))
        self.step = json.loads((ckpt / "trainer_state.json").read_text())["step"]
        log.info("resumed from %s (step %d)", ckpt, self.step)

    # validation and samples --------------------------------------------------------------------------------
    def _val_batches(self):
        loader = torch.utils.data.DataLoader(self.val_dataset, batch_size=self.cfg.batch_size, collate_fn=_collate,
                                             num_workers=min(self.cfg.num_workers, 2))
        for batch in loader:
            batch = {k: v.to(self.acc.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            yield batch, self.stage.evaluate(batch)

    def validate(self) -> dict | None:
        if self.val_dataset is None or not self.acc.is_main_process:
            return None
        metrics = self.stage.metrics(list(self._val_batches()))
        record = {"step": self.step, **metrics}
        with open(self.out / "val.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        self.acc.log({f"val/{k}": v for k, v in metrics.items()}, step=self.step)
        log.info("validation at step %d: %s", self.step, ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        best_file = self.out / "best" / "val.json"
        best = json.loads(best_file.read_text())[self.stage.val_key] if best_file.is_file() else float("-inf")
        if metrics[self.stage.val_key] > best:
            tmp = self.out / "best.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            self.stage.export(tmp)
            (tmp / "val.json").write_text(json.dumps(record, indent=1))
            shutil.rmtree(self.out / "best", ignore_errors=True)
            tmp.rename(self.out / "best")
        return metrics

    def save_samples(self, batch):
        if not self.acc.is_main_process:
            return
        out = self.stage.evaluate(batch)
        cols = self.stage.grid(batch, out)
        k = min(4, cols[0].shape[0])
        tiles = torch.stack([c[i].cpu().float() for i in range(k) for c in cols])
        (self.out / "samples").mkdir(parents=True, exist_ok=True)
        torchvision.utils.save_image(tiles, self.out / "samples" / f"step_{self.step:07d}.png", nrow=len(cols), padding=2)

    def _time_up(self, elapsed: float) -> bool:
        """Whether the time limit is reached, agreed by every process (so they all stop at the same step)."""
        flag = torch.tensor([float(elapsed > self.cfg.time_limit_s)], device=self.acc.device)
        return bool(self.acc.gather(flag).max() > 0)

    # the loop ----------------------------------------------------------------------------------------------
    def train(self, resume: bool = False) -> Path:
        cfg, acc = self.cfg, self.acc
        if resume:
            self.resume()
        elif latest_checkpoint(self.out) or (self.out / "best").exists() or (self.out / "model").exists():
            raise TryOnError(f"{self.out} already holds a training run: pass --resume to continue it, or choose "
                             "another output folder (a fresh run there would mix with it and replace its models)")
        if acc.is_main_process:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
        acc.init_trackers("tryon", config={k: v for k, v in dataclasses.asdict(cfg).items() if isinstance(v, (int, float, str, bool))})
        sampler = StepBatchSampler(len(self.dataset), cfg.batch_size, seed=cfg.seed, start=self.step * cfg.grad_accum,
                                   rank=acc.process_index, world=acc.num_processes)
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=sampler, collate_fn=_collate,
                                             num_workers=cfg.num_workers, persistent_workers=cfg.num_workers > 0)
        steps_per_epoch = max(1, sampler.batches_per_epoch // cfg.grad_accum)
        val_every = cfg.val_every or steps_per_epoch
        log.info("%s stage: %d samples, %d steps per epoch, training to step %d", cfg.stage, len(self.dataset), steps_per_epoch, cfg.steps)
        batches = iter(loader)
        t0, seen = time.perf_counter(), 0
        while self.step < cfg.steps:
            self.stage.set_lr(self.step + 1)
            for _ in range(cfg.grad_accum):
                batch = next(batches)
                batch = {k: v.to(acc.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
                losses = self.stage.training_step(batch, self.step + 1)
                seen += len(batch["name"]) * acc.num_processes
            self.step += 1
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                rate = seen / (time.perf_counter() - t0)
                acc.log({**{f"train/{k}": v.item() for k, v in losses.items()}, "train/images_per_s": rate}, step=self.step)
                log.info("step %d/%d  %s  %.2f img/s", self.step, cfg.steps,
                         "  ".join(f"{k} {v.item():.4f}" for k, v in losses.items()), rate)
            if self.step % cfg.sample_every == 0:
                self.save_samples(batch)
            if self.step % val_every == 0 or self.step == cfg.steps:
                self.validate()
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                self.save_checkpoint()
            elif cfg.time_limit_s and self._time_up(time.perf_counter() - t0):
                log.info("time limit of %.0f s reached at step %d", cfg.time_limit_s, self.step)
                self.validate()
                self.save_checkpoint()
                break
        if acc.is_main_process:
            tmp = self.out / "model.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            self.stage.export(tmp)
            shutil.rmtree(self.out / "model", ignore_errors=True)
            tmp.rename(self.out / "model")
        acc.wait_for_everyone()
        acc.end_training()
        return self.out / "model"


def train(cfg: TrainConfig, resume: bool = False, dataset=None, val_dataset=None) -> Path:
    """Train one stage as configured; returns the folder of the final model."""
    return Trainer(cfg, dataset, val_dataset).train(resume=resume)
