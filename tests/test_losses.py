import pytest
import torch

from tryon.errors import TryOnError
from tryon.training.losses import (
    VGGPerceptualLoss,
    adversarial_loss,
    feature_matching_loss,
    mask_loss,
    total_variation,
    tps_grid_regularisation,
)


def preds(*values):
    """Discriminator-like output: one scale per value, a feature map then a 2x2 prediction map filled with it."""
    return [[torch.zeros(1, 4, 4, 4), torch.full((1, 1, 2, 2), float(v))] for v in values]


def test_lsgan_pulls_toward_one_for_real_and_zero_for_fake():
    assert adversarial_loss(preds(1.0, 1.0), True).item() == 0.0
    assert adversarial_loss(preds(0.0, 0.0), False).item() == 0.0
    assert adversarial_loss(preds(1.0, 0.0), True).item() == pytest.approx(0.5)  # averaged over scales
    assert adversarial_loss(preds(0.5), False, for_discriminator=False).item() == pytest.approx(0.25)


def test_hinge_margins_and_generator_sign():
    assert adversarial_loss(preds(0.5), True, "hinge").item() == pytest.approx(0.5)
    assert adversarial_loss(preds(2.0), True, "hinge").item() == 0.0
    assert adversarial_loss(preds(0.5), False, "hinge").item() == pytest.approx(1.5)
    assert adversarial_loss(preds(-2.0), False, "hinge").item() == 0.0
    assert adversarial_loss(preds(0.5, 1.5), True, "hinge", for_discriminator=False).item() == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        adversarial_loss(preds(0.5), False, "hinge", for_discriminator=False)
    with pytest.raises(ValueError):
        adversarial_loss(preds(0.5), True, "wgan")


def test_feature_matching_compares_intermediate_features_only():
    real = [[torch.ones(1, 2, 4, 4), torch.zeros(1, 1, 2, 2)], [torch.ones(1, 2, 2, 2), torch.zeros(1, 1, 1, 1)]]
    assert feature_matching_loss(real, real).item() == 0.0
    fake = [[f + 1 for f in scale[:-1]] + [scale[-1] + 5] for scale in real]  # predictions are not compared
    for scale in fake:
        scale[0].requires_grad_(True)
    real[0][0].requires_grad_(True)
    loss = feature_matching_loss(fake, real)
    assert loss.item() == pytest.approx(1.0)
    loss.backward()
    assert fake[0][0].grad is not None and real[0][0].grad is None  # the real side is detached


def test_mask_loss_and_total_variation():
    assert mask_loss(torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)).item() == 1.0
    assert total_variation(torch.full((1, 3, 4, 4), 0.3)).item() == 0.0
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., 1::2] = 1.0  # vertical stripes: every horizontal step changes by 1, no vertical one
    assert total_variation(stripes).item() == 1.0


def lattice(size=5):
    axis = torch.linspace(-1, 1, size)
    return torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1)[None]


def test_tps_regularisation_is_zero_for_affine_grids_and_positive_when_bent():
    grid = lattice()
    assert tps_grid_regularisation(grid).item() == 0.0
    affine = grid @ torch.tensor([[0.9, 0.2], [-0.1, 1.1]]) + torch.tensor([0.1, -0.2])
    assert tps_grid_regularisation(affine).item() == pytest.approx(0.0, abs=1e-6)
    bent = grid.clone()
    bent[0, 2, 2, 1] += 0.2  # the centre point moves down: neighbours on both sides stay equally far
    assert tps_grid_regularisation(bent).item() > 0.01


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory):
    """A random-init torchvision VGG19 state dict (features only), saved the two supported ways."""
    from safetensors.torch import save_file
    from torchvision.models import vgg19

    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in vgg19(weights=None).features.state_dict().items()}
    folder = tmp_path_factory.mktemp("vgg")
    save_file(state, folder / "vgg19.safetensors")
    torch.save(state, folder / "vgg19.pth")
    return folder


def test_vgg_loss_without_weights_file_raises_a_readable_error(tmp_path):
    with pytest.raises(TryOnError, match="not found"):
        VGGPerceptualLoss(tmp_path / "missing.safetensors")
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    with pytest.raises(TryOnError, match="Could not read"):
        VGGPerceptualLoss(tmp_path / "junk.pth")


def test_vgg_loss_rejects_a_file_that_is_not_vgg19(tmp_path):
    from safetensors.torch import save_file

    save_file({"features.0.weight": torch.zeros(1)}, tmp_path / "other.safetensors")
    with pytest.raises(TryOnError, match="not a torchvision VGG19"):
        VGGPerceptualLoss(tmp_path / "other.safetensors")


@pytest.mark.parametrize("name", ["vgg19.safetensors", "vgg19.pth"])
def test_vgg_loss_from_a_local_file(vgg_weights, name):
    loss_fn = VGGPerceptualLoss(vgg_weights / name)
    loss_fn.train()
    assert not loss_fn.training and not any(p.requires_grad for p in loss_fn.parameters())
    torch.manual_seed(0)
    x = (torch.rand(2, 3, 64, 48) * 2 - 1).requires_grad_(True)
    target = torch.rand(2, 3, 64, 48) * 2 - 1
    assert loss_fn(x, x.detach()).item() == 0.0
    loss = loss_fn(x, target)
    assert loss.item() > 0
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
