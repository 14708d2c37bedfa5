"""Optional perceptual loss: VGG16 features at relu1_2, relu2_2 and relu3_3.

Weights come only from a local file the user supplies (nothing is downloaded). The file is a
PyTorch state dict with torchvision's VGG16 key names (`features.0.weight`, ... ; extra keys such
as the classifier are ignored), or the same keys without the `features.` prefix.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from thagen.errors import ConfigError
from thagen.train.data.images import linear_to_srgb

# torchvision vgg16().features layout up to relu3_3 (indices matter: they are the state-dict keys)
_LAYOUT: list[tuple[int, int] | str] = [
    (3, 64),
    (64, 64),
    "M",
    (64, 128),
    (128, 128),
    "M",
    (128, 256),
    (256, 256),
    (256, 256),
]
TAPS = (3, 8, 15)  # relu1_2, relu2_2, relu3_3 in that Sequential
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg16_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    for item in _LAYOUT:
        if isinstance(item, str):  # "M"
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(item[0], item[1], 3, padding=1), nn.ReLU(inplace=False)]
    return nn.Sequential(*layers)


class PerceptualLoss(nn.Module):
    """Mean L1 distance between VGG16 features of prediction and target (frozen network)."""

    mean: torch.Tensor  # buffers (registered in __init__)
    std: torch.Tensor

    def __init__(self, weights: Path | str) -> None:
        super().__init__()
        self.features = vgg16_features()
        self._load(Path(weights))
        self.features.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def _load(self, path: Path) -> None:
        if not path.is_file():
            raise ConfigError(
                f"{path}: key 'perceptual_weights': file not found (supply a local VGG16 state dict; nothing is downloaded)"
            )
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ConfigError(f"{path}: key 'perceptual_weights': not a PyTorch state dict ({exc})") from exc
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        want = self.features.state_dict()
        picked = {}
        for k in want:
            for cand in (f"features.{k}", k):
                if cand in state:
                    picked[k] = state[cand]
                    break
        missing = sorted(set(want) - set(picked))
        if missing:
            raise ConfigError(
                f"{path}: key 'perceptual_weights': lacks VGG16 tensors {', '.join(missing[:3])}"
            )
        bad = [k for k in want if tuple(picked[k].shape) != tuple(want[k].shape)]
        if bad:
            raise ConfigError(
                f"{path}: key 'perceptual_weights': {bad[0]} has shape {tuple(picked[bad[0]].shape)}"
            )
        self.features.load_state_dict(picked)

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        """Network RGBA in [-1, 1] linear -> premultiplied sRGB, ImageNet-normalised."""
        x = (x.float() + 1) / 2
        rgb = linear_to_srgb(x[:, :3]) * x[:, 3:4].clamp(0, 1)
        return (rgb - self.mean) / self.std

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        a, b = self._prep(pred), self._prep(target)
        loss = pred.new_zeros((), dtype=torch.float32)
        for i, layer in enumerate(itertools.islice(self.features, TAPS[-1] + 1)):
            a, b = layer(a), layer(b)
            if i in TAPS:
                loss = loss + F.l1_loss(a, b)
        return loss
