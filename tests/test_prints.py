"""A garment's print laid whole (tryon.preprocess.garment.print_region, TryOnPipeline.lay_prints): the flow
refiners squash a print they cannot place exactly into a thin smear; the pipeline lays it by the spline moved by the
flow's mean over the print instead, at the mean of both mirror passes' placements; the warp learns to place it
(tryon.training.losses.print_placement_loss)."""
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from tryon.models.chain import mirror_grid
from tryon.models.warp import warp
from tryon.pipeline import Warped
from tryon.preprocess.garment import print_region
from tryon.training.losses import print_placement_loss

H, W = 256, 192
ROWS = (100, 130)  # the print's rows in the garment frame


def _garment(lettering: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A navy T-shirt block on white at 256x192, with a white bar of lettering across rows ROWS."""
    rgb = np.full((H, W, 3), 255, np.uint8)
    mask = np.zeros((H, W), bool)
    mask[30:230, 40:152] = True
    mask[30:80, 15:177] = True
    rgb[mask] = (30, 40, 90)
    if lettering:
        image = Image.fromarray(rgb)
        draw = ImageDraw.Draw(image)
        for x in range(62, 130, 14):  # letter-like strokes
            draw.rectangle((x, ROWS[0], x + 7, ROWS[1]), fill=(255, 255, 255))
            draw.rectangle((x, ROWS[0], x + 12, ROWS[0] + 6), fill=(255, 255, 255))
        rgb = np.asarray(image)
    return rgb, mask


def test_print_region_covers_lettering_not_plain_fabric_or_the_outline():
    rgb, mask = _garment()
    region = print_region(rgb, mask)
    letters = (rgb.min(-1) > 200) & mask
    assert region.dtype == np.float32 and region.shape == (H, W)
    assert np.mean(region[letters] > 0.5) > 0.95
    assert region[180:230, 50:140].max() < 0.05  # plain fabric well below the print
    assert region[~mask].max() == 0.0
    plain, plain_mask = _garment(lettering=False)
    assert print_region(plain, plain_mask).max() < 0.05  # the outline is no print


def _squash_flow(centre: float) -> torch.Tensor:
    """A flow [1, 2, 128, 96] (grid units) that reads three garment rows per try-on row within 10 rows of `centre`
    (model pixels) and eases back to none 40 rows further: a print there comes out a third of its height."""
    y = np.arange(H // 2) * 2.0 + 0.5
    d = np.clip((y - centre) * 2, -20, 20)
    far = np.abs(y - centre) > 10
    d[far] = np.sign(d[far]) * np.clip(20 - (np.abs(y[far] - centre) - 10) * 0.5, 0, None)
    flow = torch.zeros(1, 2, H // 2, W // 2)
    flow[0, 1] = torch.from_numpy(d * 2 / H).float()[:, None]
    return flow


def _print_rows(image: torch.Tensor) -> int:
    """How many rows of a warped garment [1, 3, H, W] in [-1, 1] show the white lettering."""
    white = (image[0].min(0).values > 0.6).numpy()
    return int(white[40:220, 50:140].any(1).sum())  # inside the garment's body


def _batch(rgb: np.ndarray, mask: np.ndarray) -> dict:
    cloth = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    cloth_mask = torch.from_numpy(mask)[None, None].float()
    return {"cloth": cloth, "cloth_mask": cloth_mask, "category": ["upper"],
            "prints": torch.from_numpy(print_region(rgb, mask))[None, None]}


def _warped(pipe, batch, flow) -> Warped:
    matcher = pipe.models_for("upper")[0]
    points = matcher.lattice[None].clone()
    grid = matcher.sampling_grid(points, flow, H, W)
    return Warped(warp(batch["cloth"], grid), warp(batch["cloth_mask"], grid, fill=0.0), points, flow,
                  torch.tensor([False]))


def test_lay_prints_keeps_a_print_the_flow_squashes_whole(tiny_pipeline):
    rgb, mask = _garment()
    batch = _batch(rgb, mask)
    squashed = _warped(tiny_pipeline, batch, _squash_flow(centre=115))
    height = ROWS[1] - ROWS[0] + 1
    assert _print_rows(squashed.image) < 0.5 * height
    laid, other = tiny_pipeline.lay_prints(batch, squashed)
    assert other is None
    assert _print_rows(laid.image) > 0.75 * height
    # away from the print the flow is the refiners' own
    assert torch.equal(laid.flow[..., 110:, :], squashed.flow[..., 110:, :].float())
    # a garment the pose lays out keeps its layout
    by_pose = squashed._replace(laid_by_pose=torch.tensor([True]))
    assert torch.equal(tiny_pipeline.lay_prints(batch, by_pose)[0].flow, squashed.flow)


def test_lay_prints_lays_the_print_once_under_mirror_averaging(tiny_pipeline):
    """Two passes that squash the print at different rows: after lay_prints both lay it on the same rows, so the
    averaged garment shows it once."""
    rgb, mask = _garment()
    batch = _batch(rgb, mask)
    mirrored = {**batch, **{k: batch[k].flip(-1) for k in ("cloth", "cloth_mask", "prints")}}
    direct = _warped(tiny_pipeline, batch, _squash_flow(centre=110))
    other = _warped(tiny_pipeline, mirrored, _squash_flow(centre=124))
    rows = lambda image: set(np.nonzero((image[0].min(0).values > 0.6).numpy()[40:220, 50:140].any(1))[0])
    assert rows(direct.image) != rows(other.image)
    laid, laid_other = tiny_pipeline.lay_prints(batch, direct, mirrored, other)
    a, b = rows(laid.image), rows(laid_other.image.flip(-1))
    assert len(a) > 0.75 * (ROWS[1] - ROWS[0] + 1)
    assert len(a ^ b) <= 2
    grid = tiny_pipeline.models_for("upper")[0].sampling_grid
    inner = (slice(None), slice(min(a) + 45, max(a) + 35), slice(70, 120))  # the print's inside, where both lay it
    assert torch.allclose(grid(laid.control_points, laid.flow, H, W)[inner],
                          mirror_grid(grid(laid_other.control_points, laid_other.flow, H, W))[inner], atol=1e-3)


def test_print_placement_loss_scores_the_print_laid_whole_and_pulls_it_to_where_it_is_worn():
    """The warp's print loss (training) reads the garment as the pipeline lays its print: a flow that squashes the
    print does not change it, a misplaced print raises it, and its gradient moves the TPS onto the worn print."""
    rgb, mask = _garment()
    batch = _batch(rgb, mask)
    cloth, prints = batch["cloth"], batch["prints"]
    identity = F.affine_grid(torch.eye(2, 3)[None], [1, 1, H, W], align_corners=False)
    down = lambda rows: identity - torch.tensor([0.0, 2 * rows / H])  # content moved `rows` rows down
    worn = warp(cloth, down(3))
    squash = F.interpolate(_squash_flow(centre=118), size=(H, W), mode="bilinear", align_corners=False)
    squashed = down(3) + squash.permute(0, 2, 3, 1)
    assert _print_rows(warp(cloth, squashed)) < 0.5 * (ROWS[1] - ROWS[0] + 1)
    placed = print_placement_loss(cloth, prints, down(3), squashed, worn).item()
    assert placed < 0.05
    assert print_placement_loss(cloth, prints, identity, identity, worn).item() > 5 * placed
    shift = torch.zeros(1, requires_grad=True)  # rows, from the garment frame's own placement
    opt = torch.optim.Adam([shift], lr=0.2)
    for _ in range(40):
        opt.zero_grad()
        tps = identity - torch.cat([torch.zeros(1), shift * 2 / H])
        print_placement_loss(cloth, prints, tps, tps, worn).backward()
        opt.step()
    assert abs(shift.item() - 3) < 0.5
