import math

import numpy as np
import pytest
import torch

from tryon.metrics import psnr, ssim


def test_identical_images():
    x = torch.rand(2, 3, 64, 48) * 2 - 1
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    assert (psnr(x, x) > 90).all()


def test_psnr_of_a_known_error():
    a = torch.zeros(1, 3, 32, 32)
    b = a + 10 / 127.5  # every pixel off by 10 grey levels
    assert psnr(a, b).item() == pytest.approx(20 * math.log10(255 / 10), abs=1e-3)


def test_masked_psnr_only_counts_the_region():
    a = torch.zeros(1, 3, 32, 32)
    b = a.clone()
    b[..., :16] = 1.0  # error only in the left half
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 16:] = 1
    assert psnr(a, b, mask).item() > 90
    assert psnr(a, b, 1 - mask).item() < psnr(a, b).item()


def test_ssim_matches_a_direct_numpy_computation():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (20, 20, 3)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    # an independent loop over every valid 11x11 window
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    vals = []
    for c in range(3):
        for i in range(10):
            for j in range(10):
                x, y = a[i:i + 11, j:j + 11, c], b[i:i + 11, j:j + 11, c]
                mx, my = (w * x).sum(), (w * y).sum()
                sxx, syy, sxy = (w * x * x).sum() - mx**2, (w * y * y).sum() - my**2, (w * x * y).sum() - mx * my
                c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
                vals.append((2 * mx * my + c1) * (2 * sxy + c2) / ((mx**2 + my**2 + c1) * (sxx + syy + c2)))
    t = lambda z: torch.from_numpy(z / 127.5 - 1).permute(2, 0, 1)[None].float()
    assert ssim(t(a), t(b)).item() == pytest.approx(float(np.mean(vals)), abs=1e-3)


def test_masked_ssim_only_counts_the_region():
    a = torch.rand(1, 3, 64, 48) * 2 - 1
    b = a.clone()
    b[..., :24] = torch.rand(1, 3, 64, 24) * 2 - 1  # the left half differs
    mask = torch.zeros(1, 1, 64, 48)
    mask[..., 32:] = 1  # far enough right that no 11x11 window reaches the changed half
    assert ssim(a, b, mask).item() == pytest.approx(1.0, abs=1e-5)
    assert ssim(a, b, 1 - mask).item() < ssim(a, b).item() < 1
