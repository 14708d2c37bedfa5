"""Image quality figures for evaluation: RMSE and SSIM.

Both are computed per image on RGBA in [0, 1]: colour sRGB-encoded as stored in the PNGs, and
premultiplied by alpha so colour under transparent pixels (which nobody sees) does not count;
alpha is compared as it is. Figures are then averaged over images. SSIM is Wang et al. (2004):
11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, dynamic range 1, computed per channel
over the 'valid' window positions (no padding) and averaged over channels and positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from thagen.train.data.images import linear_to_srgb

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def to_metric_space(x: torch.Tensor) -> torch.Tensor:
    """(B, 4, H, W) network tensor in [-1, 1] (linear colour) -> premultiplied sRGB RGBA in [0, 1]."""
    x = ((x.float() + 1) / 2).clamp(0, 1)
    alpha = x[:, 3:4]
    return torch.cat([linear_to_srgb(x[:, :3]) * alpha, alpha], dim=1)


def rmse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image root-mean-square error over all pixels and channels: (B,)."""
    return (a.float() - b.float()).pow(2).flatten(1).mean(1).sqrt()


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).float()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image SSIM of (B, C, H, W) tensors with values in [0, data_range]: (B,)."""
    a, b = a.float(), b.float()
    c = a.shape[1]
    if min(a.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {tuple(a.shape[-2:])}")
    win = gaussian_window().to(a.device)[None, None].expand(c, 1, SSIM_WINDOW, SSIM_WINDOW)

    def filt(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, win, groups=c)

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)
