"""The generator's detail losses: the EfficientNet-Lite0 perceptual loss and the aligned composition loss, alone and
in a few generator training steps on synthetic data."""
import socket

import pytest
import torch
import torch.nn.functional as F

from tryon.models import GeometricMatcher
from tryon.models.efficientnet import EfficientNetLite0Encoder, load_imagenet_weights
from tryon.preprocess.person import CLOTH_CHANNELS, PERSON_REPR_CHANNELS
from tryon.training.config import TrainConfig
from tryon.training.losses import EfficientNetPerceptualLoss, aligned_composition_loss
from tryon.training.trainer import Trainer


@pytest.fixture(scope="module")
def perceptual():
    return EfficientNetPerceptualLoss()


def _texture(seed=0, size=(128, 96)):
    """A print-like image in [-1, 1]: random colours at 8 px, sharp-edged when scaled up."""
    g = torch.Generator().manual_seed(seed)
    cells = torch.rand(2, 3, size[0] // 8, size[1] // 8, generator=g) * 2 - 1
    return F.interpolate(cells, size=size, mode="nearest")


def test_the_perceptual_loss_loads_its_weights_without_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the perceptual loss reached for the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    loss = EfficientNetPerceptualLoss()
    assert not any(p.requires_grad for p in loss.parameters())
    assert not loss.train().encoder.training  # frozen batch norms: it stays in eval mode


def test_the_perceptual_encoder_is_the_imagenet_trunk_cut_at_stride_8(perceptual):
    full = load_imagenet_weights(EfficientNetLite0Encoder()).eval()
    x = _texture()
    with torch.no_grad():
        cut, whole = perceptual.encoder(x), full(x)
    assert [f.shape[1] for f in cut] == [16, 24, 40] and [f.shape[-1] for f in cut] == [48, 24, 12]
    assert all(torch.equal(a, b) for a, b in zip(cut, whole[:3]))
    assert len(perceptual.encoder._blocks) < len(full._blocks)


def test_the_perceptual_loss_is_zero_for_the_same_image_and_punishes_blur_more_than_a_brightness_shift(perceptual):
    x = _texture()
    with torch.no_grad():
        same = perceptual(x, x).item()
        brighter = perceptual((x + 0.05).clamp(-1, 1), x).item()
        blurred = perceptual(F.avg_pool2d(x, 5, 1, 2, count_include_pad=False), x).item()
        other = perceptual(_texture(seed=1), x).item()
    assert same == 0
    assert 0 < brighter < blurred / 2
    assert blurred < other  # a blurred print is still nearer than another print


def test_the_perceptual_loss_sends_gradients_into_the_output_only(perceptual):
    x, target = _texture().requires_grad_(True), _texture(seed=1).requires_grad_(True)
    perceptual(x, target).backward()
    assert x.grad.abs().sum() > 0 and target.grad is None


def _images(aligned: bool):
    """A person, and a warped garment over its left half that matches the person (aligned) or not."""
    real = _texture()
    wmask = torch.zeros(2, 1, 128, 96)
    wmask[..., :48] = 1
    warped = torch.where(wmask > 0.5, real if aligned else -real, torch.ones_like(real))
    return warped, wmask, real


def test_the_aligned_composition_loss_pushes_the_mask_to_1_only_where_the_warp_matches():
    warped, wmask, real = _images(aligned=True)
    zeros, ones = torch.zeros_like(wmask), torch.ones_like(wmask)
    assert aligned_composition_loss(zeros, warped, wmask, real).item() == pytest.approx(1.0)
    assert aligned_composition_loss(ones, warped, wmask, real).item() == 0
    outside_only = 1 - wmask  # a mask of 1 outside the warped garment does not count
    assert aligned_composition_loss(outside_only, warped, wmask, real).item() == pytest.approx(1.0)

    misplaced = _images(aligned=False)
    assert aligned_composition_loss(zeros, *misplaced).item() == 0

    half = warped.clone()
    half[..., 64:, :] = -real[..., 64:, :]  # the lower half of the garment misaligned
    mask = torch.full_like(wmask, 0.5).requires_grad_(True)
    aligned_composition_loss(mask, half, wmask, real).backward()
    pushed = mask.grad < 0
    assert pushed[..., :64, :48].all() and not pushed[..., 64:, :].any() and not pushed[..., 48:].any()


def test_the_aligned_threshold_sets_what_counts_as_aligned():
    warped, wmask, real = _images(aligned=True)
    off = warped + 0.15 * wmask  # a garment 0.15 brighter than the person
    zeros = torch.zeros_like(wmask)
    assert aligned_composition_loss(zeros, off, wmask, real, threshold=0.2).item() == pytest.approx(1.0)
    assert aligned_composition_loss(zeros, off, wmask, real, threshold=0.1).item() == 0


@pytest.fixture(scope="module")
def warp_dir(tmp_path_factory):
    """An untrained matcher (the identity warp): enough to drive the generator stage."""
    d = tmp_path_factory.mktemp("warp")
    GeometricMatcher(person_channels=PERSON_REPR_CHANNELS, cloth_channels=CLOTH_CHANNELS).save_pretrained(d)
    return d


def _cfg(tmp_path, data, warp_dir, **kw):
    return TrainConfig(stage="generator", data=str(data), output_dir=str(tmp_path / "generator"), batch_size=2,
                       num_workers=0, log_every=1, sample_every=1000, checkpoint_every=100, val_samples=2, ngf=8, ndf=8,
                       num_d=1, augment=False, warp_model=str(warp_dir), **kw)


def test_the_new_terms_are_off_by_default(tmp_path, synth_viton, warp_dir):
    trainer = Trainer(_cfg(tmp_path, synth_viton, warp_dir, steps=1))
    assert trainer.stage.perceptual is None
    batch = torch.utils.data.default_collate([trainer.dataset[i] for i in range(2)])
    assert not {"perceptual", "aligned"} & trainer.stage.training_step(batch, 1).keys()


@pytest.mark.parametrize("term", ["perceptual", "aligned"])
def test_generator_steps_on_each_new_term_lower_it(tmp_path, synth_viton, warp_dir, term):
    only = dict(lambda_gan=0.0, lambda_fm=0.0, lambda_l1=0.0, lambda_mask=0.0, **{f"lambda_{term}": 1.0})
    trainer = Trainer(_cfg(tmp_path, synth_viton, warp_dir, steps=15, lr=2e-3, ema_decay=0.0, **only))
    stage = trainer.stage
    batch = torch.utils.data.default_collate([trainer.dataset[i] for i in range(4)])
    perceptual = EfficientNetPerceptualLoss()

    def score():
        with torch.no_grad():
            x, warped, wmask = stage._inputs(batch)
            out = trainer.acc.unwrap_model(stage.G)(x, warped)
            if term == "perceptual":
                return perceptual(out.image, batch["person"]).item()
            return aligned_composition_loss(out.mask, warped, wmask, batch["person"]).item()

    before = score()
    assert before > 0.2  # (the identity warp matches the synthetic person in places)
    trainer.train()
    assert score() < 0.8 * before
