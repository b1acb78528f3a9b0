import dataclasses
import json

import pytest
import torch
from accelerate.state import AcceleratorState

from tryon.models import GeometricMatcher, HumanParser
from tryon.preprocess.person import CLOTH_CHANNELS, PERSON_REPR_CHANNELS
from tryon.training.config import TrainConfig, load_config
from tryon.training.stages import NonFiniteLoss
from tryon.training.trainer import Trainer, latest_checkpoint, train
from tryon.errors import TryOnError
from tryon.metrics import ssim

SMALL = dict(batch_size=2, num_workers=0, log_every=1, sample_every=1000, val_samples=2, parser_channels=8, ngf=8,
             ndf=8, num_d=1, augment=False)


@pytest.fixture(scope="module")
def warp_dir(tmp_path_factory):
    """An untrained matcher (the identity warp): enough to drive the generator stage."""
    d = tmp_path_factory.mktemp("warp")
    GeometricMatcher(person_channels=PERSON_REPR_CHANNELS, cloth_channels=CLOTH_CHANNELS).save_pretrained(d)
    return d


def _cfg(tmp_path, data, stage, **kw):
    return TrainConfig(stage=stage, data=str(data), output_dir=str(tmp_path / stage), **{**SMALL, **kw})


def _weights(model_dir, cls):
    m = cls.from_pretrained(model_dir)
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_the_cloth_mask_setting_reaches_both_datasets(tmp_path, synth_viton):
    trainer = Trainer(_cfg(tmp_path, synth_viton, "warp", steps=1, cloth_masks="computed"))
    assert trainer.dataset.cloth_masks == trainer.val_dataset.dataset.cloth_masks == "computed"


def test_extra_data_joins_the_training_pairs_and_validation_stays_on_the_data(tmp_path, synth_viton):
    alone = Trainer(_cfg(tmp_path / "a", synth_viton, "warp", steps=1))
    both = Trainer(_cfg(tmp_path / "b", synth_viton, "warp", steps=1, extra_data=str(synth_viton), extra_repeat=2))
    assert len(both.dataset) == 3 * len(alone.dataset) > 0
    assert [p.name for p in both.dataset.pairs] == 3 * [p.name for p in alone.dataset.pairs]
    assert len(both.val_dataset) == len(alone.val_dataset)


@pytest.mark.parametrize("stage", ["parser", "garment"])
def test_parser_and_garment_segmenter_training_lower_the_loss(tmp_path, synth_viton, stage):
    cfg = _cfg(tmp_path, synth_viton, stage, steps=25, lr=2e-3, checkpoint_every=100)
    trainer = Trainer(cfg)
    batch = torch.utils.data.default_collate([trainer.dataset[i] for i in range(4)])

    def loss():
        with torch.no_grad():
            m = trainer.acc.unwrap_model(trainer.stage.model)
            return torch.nn.functional.cross_entropy(m(batch["image"]), batch["labels"]).item()

    before = loss()
    trainer.train()
    assert loss() < 0.7 * before
    assert (tmp_path / stage / "model" / "config.json").is_file()
    val = json.loads((tmp_path / stage / "val.jsonl").read_text().splitlines()[-1])
    assert val["step"] == 25 and 0 <= val[trainer.stage.val_key] <= 1
    assert (tmp_path / stage / "best" / "val.json").is_file()


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, synth_viton, warp_dir):
    kw = dict(steps=4, checkpoint_every=2, warp_model=str(warp_dir), augment=True)
    whole = train(_cfg(tmp_path / "a", synth_viton, "generator", **kw))
    first = _cfg(tmp_path / "b", synth_viton, "generator", **{**kw, "steps": 2})
    train(first)
    assert latest_checkpoint(first.output_dir).name == "step_0000002"
    resumed = train(_cfg(tmp_path / "b", synth_viton, "generator", **kw), resume=True)
    from tryon.models import TryOnGenerator

    a, b = _weights(whole, TryOnGenerator), _weights(resumed, TryOnGenerator)  # the EMA generators
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    one_more = _cfg(tmp_path / "c", synth_viton, "generator", **{**kw, "steps": 3})
    c = _weights(train(one_more), TryOnGenerator)
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the comparison can tell runs apart


def test_a_fresh_run_refuses_a_folder_that_holds_a_run(tmp_path, synth_viton):
    cfg = _cfg(tmp_path, synth_viton, "parser", steps=2, checkpoint_every=100, val_every=2)
    train(cfg)
    run = tmp_path / "parser"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert (run / "best").is_dir() and latest_checkpoint(run) is not None
    with pytest.raises(TryOnError, match="already holds a training run: pass --resume"):
        train(dataclasses.replace(cfg, steps=3))
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert (train(dataclasses.replace(cfg, steps=3), resume=True) / "config.json").is_file()


def test_a_partial_checkpoint_is_ignored(tmp_path, synth_viton):
    cfg = _cfg(tmp_path, synth_viton, "parser", steps=2, checkpoint_every=1)
    train(cfg)
    ckpts = tmp_path / "parser" / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["step_0000001", "step_0000002"]
    (ckpts / "step_0000003.tmp").mkdir()  # a run killed while writing
    assert latest_checkpoint(cfg.output_dir).name == "step_0000002"


class _PoisonedDataset(torch.utils.data.Dataset):
    def __init__(self, ds, bad_index):
        self.ds, self.bad = ds, bad_index

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, key):
        s = self.ds[key]
        if key[0] == self.bad:
            s["image"] = torch.full_like(s["image"], float("nan"))
        return s


def test_nan_guard_stops_and_says_where(tmp_path, synth_viton):
    from tryon.data.layouts import read_dataset
    from tryon.data.parsing import ParserDataset

    ds = _PoisonedDataset(ParserDataset(read_dataset(synth_viton, "train", "paired"), augment=False), bad_index=3)
    cfg = _cfg(tmp_path, synth_viton, "parser", steps=8, checkpoint_every=1)
    with pytest.raises(NonFiniteLoss, match=r"loss 'ce' is nan at step \d+ \(samples: .*\)") as e:
        train(cfg, dataset=ds)
    step = int(str(e.value).split("at step ")[1].split()[0])
    name = ds.ds[3]["name"]
    assert name in str(e.value)
    assert latest_checkpoint(cfg.output_dir) is None or int(latest_checkpoint(cfg.output_dir).name[5:]) < step


def test_init_fine_tunes_from_saved_weights(tmp_path, synth_viton):
    base = train(_cfg(tmp_path / "base", synth_viton, "parser", steps=2, checkpoint_every=100))
    trainer = Trainer(_cfg(tmp_path / "ft", synth_viton, "parser", steps=1, init=str(base)))
    start = trainer.acc.unwrap_model(trainer.stage.model).state_dict()
    saved = _weights(base, HumanParser)
    assert all(torch.equal(start[k], saved[k]) for k in saved)
    # fine-tuned at 384x288, it says so: the pipeline crops photos at that size for it
    larger = train(_cfg(tmp_path / "hr", synth_viton, "parser", steps=1, init=str(base), height=384, width=288))
    assert HumanParser.from_pretrained(base).config.input_height == 256
    assert (HumanParser.from_pretrained(larger).config.input_height,
            HumanParser.from_pretrained(larger).config.input_width) == (384, 288)
    with pytest.raises(TryOnError, match="no saved parser model"):
        Trainer(_cfg(tmp_path / "bad", synth_viton, "parser", steps=1, init=str(tmp_path)))


def test_init_refuses_a_generator_built_for_another_resolution(tmp_path, synth_viton, warp_dir):
    from tryon.models import TryOnGenerator
    from tryon.preprocess.person import GENERATOR_CHANNELS

    TryOnGenerator(in_channels=GENERATOR_CHANNELS, ngf=8, height=256, width=192).save_pretrained(tmp_path / "g256")
    with pytest.raises(TryOnError, match="built for 256x192, and this run trains at 512x384"):
        Trainer(_cfg(tmp_path, synth_viton, "generator", steps=1, init=str(tmp_path / "g256"),
                     warp_model=str(warp_dir), height=512, width=384))


def test_a_tps_warp_fine_tuned_with_a_flow_refiner_starts_as_that_warp(tmp_path, synth_viton, warp_dir):
    cfg = _cfg(tmp_path, synth_viton, "warp", steps=3, checkpoint_every=100, init=str(warp_dir),
               warp_flow_channels=8, lambda_ssim=1)
    trainer = Trainer(cfg)
    matcher = trainer.acc.unwrap_model(trainer.stage.model)
    start, saved = matcher.state_dict(), _weights(warp_dir, GeometricMatcher)
    assert matcher.config.flow_channels == 8 and all(torch.equal(start[k], saved[k]) for k in saved)
    assert not matcher.refiner.head.weight.any()  # so its first grid is exactly the TPS warp's
    batch = torch.utils.data.default_collate([{k: v for k, v in trainer.dataset[i].items() if k != "name"}
                                              for i in range(2)])
    losses = trainer.stage.training_step({**batch, "name": ["a", "b"], "category": ["upper"] * 2}, 1)
    assert {"l1", "mask", "grid", "flow_tv", "ssim"} <= losses.keys()
    model = trainer.train()
    refined = GeometricMatcher.from_pretrained(model)
    assert refined.config.flow_channels == 8 and refined.refiner.head.weight.any()
    assert "ssim_garment" in json.loads((tmp_path / "warp" / "val.jsonl").read_text().splitlines()[-1])
    kept = Trainer(_cfg(tmp_path / "kept", synth_viton, "warp", steps=1, init=str(model))).stage.model
    assert kept.config.flow_channels == 8  # warp_flow_channels 0 keeps the refiner a warp already has
    with pytest.raises(TryOnError, match="already has a flow refiner of 8 channels"):
        Trainer(_cfg(tmp_path / "bad", synth_viton, "warp", steps=1, init=str(model), warp_flow_channels=4))


def test_a_flow_warp_grows_a_cascade_that_starts_as_that_warp_and_keeps_it(tmp_path, synth_viton, warp_dir):
    flow = train(_cfg(tmp_path / "flow", synth_viton, "warp", steps=2, checkpoint_every=100, init=str(warp_dir),
                      warp_flow_channels=8))
    trainer = Trainer(_cfg(tmp_path / "grown", synth_viton, "warp", steps=2, checkpoint_every=100, init=str(flow),
                           warp_flow_stages=2))
    matcher = trainer.acc.unwrap_model(trainer.stage.model)
    start, saved = matcher.state_dict(), _weights(flow, GeometricMatcher)
    assert matcher.config.flow_stages == 2 and all(torch.equal(start[k], saved[k]) for k in saved)
    assert not matcher.cascade[0].head.weight.any()
    model = trainer.train()
    grown = GeometricMatcher.from_pretrained(model)
    assert grown.config.flow_stages == 2 and grown.cascade[0].head.weight.any()
    kept = Trainer(_cfg(tmp_path / "kept", synth_viton, "warp", steps=1, init=str(model)))
    assert kept.stage.model.config.flow_stages == 2  # warp_flow_stages 1 keeps the cascade a warp already has


def test_the_ssim_term_alone_raises_the_generators_ssim(tmp_path, synth_viton, warp_dir):
    only_ssim = dict(lambda_gan=0.0, lambda_fm=0.0, lambda_l1=0.0, lambda_mask=0.0, lambda_ssim=1.0)
    cfg = _cfg(tmp_path, synth_viton, "generator", steps=20, lr=2e-3, ema_decay=0.0, checkpoint_every=100,
               warp_model=str(warp_dir), **only_ssim)
    trainer = Trainer(cfg)
    batch = torch.utils.data.default_collate([trainer.dataset[i] for i in range(4)])

    def score():
        with torch.no_grad():
            x, warped, _ = trainer.stage._inputs(batch)
            return ssim(trainer.acc.unwrap_model(trainer.stage.G)(x, warped).image, batch["person"]).mean().item()

    before = score()
    trainer.train()
    assert score() > before + 0.05


def test_learning_rates_fall_linearly_to_zero_after_lr_decay_from(tmp_path, synth_viton, warp_dir):
    cfg = _cfg(tmp_path, synth_viton, "generator", steps=6, lr=2e-4, lr_d=1e-4, lr_decay_from=2, warp_model=str(warp_dir))
    stage = Trainer(cfg).stage
    rates = []
    for step in range(1, 7):
        stage.set_lr(step)
        rates += [stage.opt_g.param_groups[0]["lr"], stage.opt_d.param_groups[0]["lr"]]
    factors = [1, 1, 0.75, 0.5, 0.25, 0]
    assert rates == pytest.approx([r * f for f in factors for r in (2e-4, 1e-4)])
    constant = Trainer(_cfg(tmp_path / "c", synth_viton, "parser", steps=6)).stage
    constant.set_lr(6)
    assert constant.opt.param_groups[0]["lr"] == constant.cfg.lr
    with pytest.raises(TryOnError, match="lr_decay_from must be 0"):
        TrainConfig(steps=6, lr_decay_from=6)


def test_config_from_toml_with_overrides_and_checks(tmp_path):
    f = tmp_path / "gen.toml"
    f.write_text('stage = "warp"\nsteps = 7\nlr = 1e-4\n')
    cfg = load_config(f, steps=9, batch_size=None)
    assert (cfg.stage, cfg.steps, cfg.lr, cfg.batch_size) == ("warp", 9, 1e-4, TrainConfig.batch_size)
    with pytest.raises(TryOnError, match="unknown config keys: colour"):
        load_config(None, colour="red")
    with pytest.raises(TryOnError, match="4:3"):
        TrainConfig(height=256, width=256)
    with pytest.raises(TryOnError, match="unknown stage"):
        TrainConfig(stage="diffusion")
    with pytest.raises(TryOnError, match="cloth_masks must be one of dataset, computed"):
        TrainConfig(cloth_masks="gt")
    bad = {"lr": (-1, "lr must be above 0"), "steps": (2.5, "steps must be a whole number"),
           "augment": (1, "augment must be true or false"), "lambda_l1": (-1, "lambda_l1 must be 0 or more"),
           "ema_decay": (1.0, "ema_decay must be at least 0 and below 1"), "init": (3, "init must be a string"),
           "data": (None, "data must be a string")}
    for key, (value, message) in bad.items():
        with pytest.raises(TryOnError, match=message):
            load_config(f, **{key: value}) if value is not None else TrainConfig(**{key: value})
    assert load_config(f, lr=1).lr == 1 and TrainConfig(init=None).init is None  # an int is a number; unset is fine
    with pytest.raises(TryOnError, match="needs a trained warp"):
        Trainer(TrainConfig(stage="generator", data=str(tmp_path), output_dir=str(tmp_path / "o")), dataset=[], val_dataset=None)


def test_time_limit_stops_early_with_a_checkpoint_and_a_model(tmp_path, synth_viton):
    cfg = _cfg(tmp_path, synth_viton, "parser", steps=1000, checkpoint_every=1000, time_limit_s=1e-9)
    model = train(cfg)
    step = int(latest_checkpoint(cfg.output_dir).name[5:])
    assert 1 <= step < 1000 and (model / "config.json").is_file()
    assert json.loads((tmp_path / "parser" / "val.jsonl").read_text().splitlines()[-1])["step"] == step


def test_the_training_path_needs_neither_gradio_nor_mediapipe():
    """The GPU machine has neither: training must import without them."""
    import subprocess
    import sys

    code = ("import sys, tryon.cli, tryon.training.trainer; "
            "bad = [m for m in ('gradio', 'mediapipe') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("capability,expected", [("AVX2", "no"), ("AVX512", "bf16")])
def test_bf16_autocast_falls_back_to_float32_on_a_cpu_without_avx512(tmp_path, synth_viton, monkeypatch, capability,
                                                                     expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    AcceleratorState._reset_state(reset_partial_state=True)  # accelerate keeps one precision per process
    try:
        trainer = Trainer(_cfg(tmp_path, synth_viton, "parser", steps=1, mixed_precision="bf16"))
        assert trainer.cfg.mixed_precision == trainer.acc.mixed_precision == expected
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


def test_train_cli_reads_every_set_override_and_refuses_a_key_given_twice(tmp_path, monkeypatch, capsys):
    import tryon.training.trainer
    from tryon.cli import main

    seen = []
    monkeypatch.setattr(tryon.training.trainer, "train", lambda cfg, resume=False: seen.append(cfg) or "done")
    assert main(["train", "generator", "--data", str(tmp_path), "--set", "lr=1e-4", "pose_layout=lower,dress",
                 "--set", "steps=7"]) == 0
    assert (seen[0].lr, seen[0].pose_layout, seen[0].steps) == (1e-4, "lower,dress", 7)
    assert main(["train", "generator", "--data", str(tmp_path), "--steps", "5", "--set", "steps=6"]) == 2
    assert "steps given both as a flag and with --set" in capsys.readouterr().err
    assert len(seen) == 1
