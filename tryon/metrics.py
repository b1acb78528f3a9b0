"""Image quality metrics on 0-255 RGB, as try-on papers report them, and per-class IoU for label maps.

SSIM uses an 11x11 Gaussian window with sigma 1.5 (Wang et al. 2004), computed per channel and averaged; PSNR is
over all pixels, or only over a region (the garment region) when a mask is given. Inputs are float tensors in
[-1, 1], [N, 3, H, W]; results are per image, [N]. `Confusion` scores parsers and segmenters.
"""
import numpy as np
import torch
import torch.nn.functional as F

from tryon.data.labels import IGNORE


class Confusion:
    """Pixel counts of (truth, prediction) over `n` classes, added up over label maps; truth IGNORE counts for
    nothing."""

    def __init__(self, n: int):
        self.n, self.counts = n, np.zeros((n, n), np.int64)

    def add(self, truth: np.ndarray, pred: np.ndarray):
        valid = truth != IGNORE
        self.counts += np.bincount(truth[valid].astype(np.int64) * self.n + pred[valid], minlength=self.n ** 2
                                   ).reshape(self.n, self.n)

    def scores(self, names) -> dict:
        """{"pixel_acc", "miou" (over the classes present in the truth or the prediction), "iou": {name: IoU}}."""
        inter = np.diag(self.counts).astype(np.float64)
        union = self.counts.sum(0) + self.counts.sum(1) - inter
        iou = {name: float(inter[c] / union[c]) for c, name in enumerate(names) if union[c] > 0}
        return {"pixel_acc": float(inter.sum() / max(self.counts.sum(), 1)), "miou": float(np.mean(list(iou.values()))),
                "iou": iou}


def _to255(x: torch.Tensor) -> torch.Tensor:
    return (x.float().clamp(-1, 1) + 1) * 127.5


def _gaussian(size=11, sigma=1.5, device=None) -> torch.Tensor:
    g = torch.exp(-((torch.arange(size, dtype=torch.float64, device=device) - size // 2) ** 2) / (2 * sigma**2))
    return (g / g.sum()).float()


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The 2-D Gaussian window (valid region) as two 1-D passes per channel: the same sums, about 2x faster."""
    c, k = x.shape[1], g.numel()
    x = F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean SSIM per image (valid-region Gaussian filtering, C1 = (0.01*255)^2, C2 = (0.03*255)^2); with a
    [N, 1, H, W] mask, the mean over the windows centred in the mask."""
    x, y = _to255(a), _to255(b)
    g = _gaussian(device=x.device)
    mu_x, mu_y = _blur(x, g), _blur(y, g)
    sxx = _blur(x * x, g) - mu_x**2
    syy = _blur(y * y, g) - mu_y**2
    sxy = _blur(x * y, g) - mu_x * mu_y
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    if mask is None:
        return s.mean(dim=(1, 2, 3))
    r = g.numel() // 2
    m = mask.float()[..., r:-r, r:-r].expand_as(s)
    return (s * m).sum(dim=(1, 2, 3)) / m.sum(dim=(1, 2, 3)).clamp(min=1)


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """PSNR in dB per image; with a [N, 1, H, W] mask, over the masked pixels only."""
    err = (_to255(a) - _to255(b)) ** 2
    if mask is None:
        mse = err.mean(dim=(1, 2, 3))
    else:
        m = mask.float().expand_as(err)
        mse = (err * m).sum(dim=(1, 2, 3)) / m.sum(dim=(1, 2, 3)).clamp(min=1)
    return 10 * torch.log10(255.0**2 / mse.clamp(min=1e-10))
