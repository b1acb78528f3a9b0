"""Geometric matching (CP-VTON+-style): regress a thin-plate-spline warp that lays the garment onto the body,
then (optionally) refine it with a dense flow, as appearance-flow methods (PF-AFN) do.

Coordinates follow `torch.nn.functional.grid_sample` with align_corners=False: x (width) then y (height), -1 and 1 at
the outer edges of the image. The TPS control points start on a regular `grid_size` x `grid_size` lattice spanning
[-1, 1]^2; the model predicts where each one reads from in the garment image.
"""
import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from tryon.data.labels import NUM_JOINTS, NUM_PARSE
from tryon.models.blocks import ConvNormAct


def warp(image: torch.Tensor, grid: torch.Tensor, fill: float = 1.0) -> torch.Tensor:
    """Sample image [N,C,h,w] at grid [N,H,W,2] (bilinear) -> [N,C,H,W]; reads outside the image give `fill`.

    Garment RGB lies on white, so the default fill=1.0 keeps the background white; warp a mask with fill=0.0.
    Sampling runs in float32 (half-precision coordinates would be off by pixels at 1024x768); the result comes back
    in the image's dtype.
    """
    out = F.grid_sample(image.float() - fill, grid.float(), mode="bilinear", padding_mode="zeros", align_corners=False)
    return (out + fill).to(image.dtype)


def _tps_kernel(squared_distance: torch.Tensor) -> torch.Tensor:
    """The thin-plate radial basis U = r^2 log r^2, with U(0) = 0."""
    return squared_distance * torch.log(squared_distance.clamp_min(1e-12))


def _tps_basis(points: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """points [P,2], anchors [K,2] -> [P, K + 3]: U(|p - anchor_k|) for each anchor, then 1, x, y."""
    kernel = _tps_kernel(torch.cdist(points, anchors, compute_mode="donot_use_mm_for_euclid_dist").square())
    return torch.cat([kernel, torch.ones_like(points[:, :1]), points], 1)


def _feature_extractor(in_channels: int, out_channels: int) -> nn.Sequential:
    """Four 4x4 stride-2 convs to 1/16 resolution (out_channels / 8, / 4, / 2, out_channels), then a 3x3 conv."""
    chs = [out_channels // 8, out_channels // 4, out_channels // 2, out_channels]
    layers, prev = [], in_channels
    for ch in chs:
        layers.append(ConvNormAct(prev, ch, 4, 2))
        prev = ch
    layers.append(nn.Conv2d(prev, out_channels, 3, padding=1))
    return nn.Sequential(*layers)


class FlowRefiner(nn.Module):
    """A small U-Net (four stride-2 levels) on [person representation, TPS-warped garment RGB + mask] that predicts a
    dense correction [N, 2, H, W] to the sampling grid, in grid units. Its last conv starts at zero, so a refiner
    added to a trained TPS warp starts out as exactly that warp."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        widths = [channels, channels * 2, channels * 4, channels * 4, channels * 4]
        self.stem = ConvNormAct(in_channels, widths[0], 3)
        self.downs = nn.ModuleList(ConvNormAct(a, b, 3, 2) for a, b in zip(widths, widths[1:]))
        self.ups = nn.ModuleList(ConvNormAct(b + a, a, 3) for a, b in zip(widths, widths[1:]))
        self.head = nn.Conv2d(widths[0], 2, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in reversed(self.ups):
            skip = skips.pop()
            y = up(torch.cat([F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1))
        return self.head(y)


class GeometricMatcher(ModelMixin, ConfigMixin):
    """Person representation + garment (RGB + mask) -> sampling grid that warps the garment onto the person.

    Both inputs are resized to the working size `work_height` x `work_width`; features at 1/16 of it (16x12 by
    default) are L2-normalised and correlated (every person location against every garment location, as in
    CP-VTON); two stride-2 convs and a linear layer regress the offsets of the control points from the regular
    lattice. That layer starts at zero, so an untrained model returns the identity warp. The dense grid is then
    evaluated at the person's own resolution, in float32, so it serves 1024x768 as well as 256x192.

    With `flow_channels` > 0 a FlowRefiner (that many base channels) then sees the garment TPS-warped at half the
    working size beside the person and adds a dense, zero-initialised correction to the grid (upsampled to the person's
    size): the TPS lays out the garment's overall shape, the flow moves what a 5x5 spline cannot (collars, sleeve
    edges, the print against the body). 0 keeps the TPS alone. With `flow_stages` > 1, that many refiners run in
    cascade (as PF-AFN refines its flow step by step): each sees the garment warped by the grid so far and adds its
    own zero-initialised correction, so a cascade grown from a trained warp starts out as exactly that warp.
    """

    @register_to_config
    def __init__(self, person_channels: int = 3 + 1 + NUM_PARSE + NUM_JOINTS, cloth_channels: int = 4,
                 grid_size: int = 5, feature_channels: int = 128, work_height: int = 256, work_width: int = 192,
                 flow_channels: int = 0, flow_stages: int = 1):
        super().__init__()
        if work_height % 16 or work_width % 16:
            raise ValueError(f"work_height and work_width must be multiples of 16, got {work_height}x{work_width}")
        self.person_features = _feature_extractor(person_channels, feature_channels)
        self.cloth_features = _feature_extractor(cloth_channels, feature_channels)
        h, w = work_height // 16, work_width // 16
        self.regressor = nn.Sequential(
            ConvNormAct(h * w, 128, 3, 2), ConvNormAct(128, 64, 3, 2), nn.Flatten(),  # [N, 64, ceil(h/4), ceil(w/4)]
            nn.Linear(64 * -(-h // 4) * -(-w // 4), grid_size * grid_size * 2),
        )
        nn.init.zeros_(self.regressor[-1].weight)
        nn.init.zeros_(self.regressor[-1].bias)
        if flow_stages < 1:
            raise ValueError(f"flow_stages must be at least 1, got {flow_stages}")
        self.refiner = FlowRefiner(person_channels + cloth_channels, flow_channels) if flow_channels > 0 else None
        later = flow_stages - 1 if flow_channels > 0 else 0
        self.cascade = nn.ModuleList(FlowRefiner(person_channels + cloth_channels, flow_channels) for _ in range(later))

        # Control lattice and the TPS solve that turns control points into spline coefficients; both are fixed by
        # grid_size, so they are derived here rather than saved.
        axis = torch.linspace(-1, 1, grid_size, dtype=torch.float64)
        lattice = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1)  # [G, G, 2]: [row, col] = (x_col, y_row)
        anchors = lattice.reshape(-1, 2)
        k = anchors.shape[0]
        system = torch.zeros(k + 3, k + 3, dtype=torch.float64)
        system[:k] = _tps_basis(anchors, anchors)
        system[k:, :k] = system[:k, k:].T
        self.register_buffer("lattice", lattice.float(), persistent=False)
        self.register_buffer("tps_solve", torch.linalg.inv(system)[:, :k].float(), persistent=False)  # [K + 3, K]

    def control_points(self, person: torch.Tensor, cloth: torch.Tensor) -> torch.Tensor:
        """person [N, person_channels, H, W], cloth [N, cloth_channels, h, w] -> control points [N, G, G, 2]."""
        size = (self.config.work_height, self.config.work_width)
        a = F.normalize(self.person_features(_resize(person, size)), dim=1)
        b = F.normalize(self.cloth_features(_resize(cloth, size)), dim=1)
        n, c, h, w = a.shape
        correlation = torch.einsum("ncg,ncp->ngp", b.flatten(2), a.flatten(2)).view(n, h * w, h, w)
        correlation = F.normalize(F.relu(correlation), dim=1)
        offsets = self.regressor(correlation).view(n, *self.lattice.shape)
        return self.lattice + offsets

    def grid(self, control_points: torch.Tensor, height: int, width: int, step: int = 1) -> torch.Tensor:
        """control points [N, G, G, 2] -> dense sampling grid [N, height, width, 2] for `warp` / grid_sample.

        The spline carries the control points' offsets from the lattice and is added to the pixel centres, which
        keeps the identity exact and the grid precise in float32 (under autocast too). With `step` > 1 (photo-sized
        grids: the spline's logarithms at every pixel of a 1024x768 crop cost about 0.3 s on a 2-core CPU), it is
        evaluated exactly on a lattice about `step` pixels apart whose corners are the corner pixels' centres, and
        interpolated bicubically between (at step 2 within 0.01 pixel of the exact spline on the default weights).
        """
        device = control_points.device
        ys = (torch.arange(height, device=device) * 2 + 1) / height - 1
        xs = (torch.arange(width, device=device) * 2 + 1) / width - 1
        pixels = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1)  # pixel centres, [H, W, 2]
        rows, cols = (height, width) if step == 1 else (-(-(height - 1) // step) + 1, -(-(width - 1) // step) + 1)
        if step > 1:  # the lattice: the corner pixels' centres and evenly between
            ys, xs = (torch.linspace(a[0].item(), a[-1].item(), n, device=device) for a, n in ((ys, rows), (xs, cols)))
        points = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)  # [R*C, 2]
        with torch.autocast(device.type, enabled=False):
            lattice = self.lattice.float()
            weights = _tps_basis(points, lattice.reshape(-1, 2)) @ self.tps_solve.float()  # [R*C, K]
            offsets = (control_points.float() - lattice).flatten(1, 2)  # [N, K, 2]
            spline = torch.einsum("pk,nkc->npc", weights, offsets).view(-1, rows, cols, 2)
            if step > 1:
                spline = F.interpolate(spline.permute(0, 3, 1, 2), size=(height, width), mode="bicubic",
                                       align_corners=True).permute(0, 2, 3, 1)
            return pixels + spline

    def sampling_grid(self, control_points: torch.Tensor, flow: torch.Tensor | None, height: int, width: int,
                      flow_mode: str = "bilinear", step: int = 1) -> torch.Tensor:
        """The dense sampling grid [N, height, width, 2] at any size: the TPS of `control_points` evaluated there
        plus the refiners' correction `flow` ([N, 2, h, w] from `flow`, or None) resized with `flow_mode`. Training
        and the models' size use bilinear; the pipeline's photo-sized grid uses bicubic, whose smooth field does not
        crease prints along the coarse flow's pixel edges when it is upsampled 8x or more. `step`: see `grid`."""
        grid = self.grid(control_points, height, width, step)
        if flow is None:
            return grid
        flow = flow.float()
        if flow.shape[-2:] != (height, width):
            flow = F.interpolate(flow, size=(height, width), mode=flow_mode, align_corners=False)
        return grid + flow.permute(0, 2, 3, 1)

    def flow(self, person: torch.Tensor, cloth: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """The refiners' correction [N, 2, h, w] at half the working size (a quarter of the cost; the flow is smooth,
        and bilinear upsampling keeps it sub-pixel), for the TPS of control points `points`: the sum of what each
        refiner adds, each given the garment warped by the TPS and the refiners before it."""
        size = (self.config.work_height // 2, self.config.work_width // 2)
        cloth, person = _resize(cloth, size), _resize(person, size)
        tps = self.grid(points, *size)
        flow = torch.zeros_like(tps).permute(0, 3, 1, 2)
        for refiner in [self.refiner, *self.cascade]:
            grid = tps + flow.permute(0, 2, 3, 1)
            warped = torch.cat([warp(cloth[:, :3], grid), warp(cloth[:, 3:], grid, fill=0.0)], 1)  # RGB on white, mask
            flow = flow + refiner(torch.cat([person, warped], 1)).float()
        return flow

    def forward(self, person: torch.Tensor, cloth: torch.Tensor, return_control_points: bool = False):
        """person [N, person_channels, H, W], cloth [N, cloth_channels, h, w] (RGB in [-1,1] + mask in [0,1]) ->
        grid [N, H, W, 2] for `warp(cloth_rgb, grid)`; with return_control_points, (grid, control points [N,G,G,2]).
        """
        points = self.control_points(person, cloth)
        flow = self.flow(person, cloth, points) if self.refiner is not None else None
        grid = self.sampling_grid(points, flow, *person.shape[-2:])
        return (grid, points) if return_control_points else grid


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bilinear resize, in float32 (CPU has no half-precision antialiased kernel)."""
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False, antialias=True).to(x.dtype)
