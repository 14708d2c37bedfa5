"""The three THA1 networks: face morpher, face rotator and combiner.

Written from THA1's published layer facts (no bias in convolutions, affine instance norm then ReLU,
7x7 stem, three 4x4 stride-2 downsamplings, residual bottleneck, three 4x4 transposed
upsamplings, bias-free 7x7 heads). At `width=64, blocks=6` the parameter counts equal THA1's
exactly (33,878,720 / 33,884,992 / 34,960,704); smaller widths make CPU tests cheap.

All images are 4-channel RGBA tensors in [-1, 1] (see `thagen.train.data.images`); the pose
channels are broadcast to the image size. Any image size divisible by 8 works.

Initialisation (our choice; THA1 is silent): an untrained network returns its input. Flow heads
start at zero (the identity warp) and every "keep" alpha starts at `INITIAL_KEEP` everywhere, so
the first steps refine a good answer (the input: most pixels do not change) instead of undoing
random noise. THA1's heads are bias-free 7x7 convolutions, and a bias would change THA1's exact
parameter counts, so the constant comes from the features instead: channel 0 of the decoder's
last normalisation starts with scale 0 and shift 1 (a constant 1 after the ReLU), and an alpha
head reads it at its centre tap with weight logit(INITIAL_KEEP), all other weights 0. Both are
ordinary trainable parameters that move away from these values as soon as gradients say so.
The stage key `keep_input_init: false` turns this off per network (docs/training.md has the
measured effect).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_CHANNELS = 4
EXPRESSION_PARAMS = 3  # left_eye, right_eye, mouth
ROTATION_PARAMS = 3  # head_x, head_y, neck_z
DOWNSAMPLINGS = 3  # 256 -> 32
INITIAL_KEEP = 0.99  # how much of the input each untrained "keep" alpha keeps (see module doc)


@dataclass(frozen=True)
class NetSpec:
    """Size of a network: base channel count and residual block count (THA1: 64 and 6)."""

    width: int = 64
    blocks: int = 6

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _norm_relu(channels: int) -> list[nn.Module]:
    return [nn.InstanceNorm2d(channels, affine=True), nn.ReLU(inplace=True)]


def conv7(cin: int, cout: int) -> nn.Sequential:
    """7x7 stem / merge block: conv (no bias), norm, ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 7, padding=3, bias=False), *_norm_relu(cout))


def down(cin: int, cout: int) -> nn.Sequential:
    """Halve the resolution: 4x4 stride-2 conv."""
    return nn.Sequential(nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=False), *_norm_relu(cout))


def up(cin: int, cout: int) -> nn.Sequential:
    """Double the resolution: 4x4 stride-2 transposed conv."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False), *_norm_relu(cout))


class ResBlock(nn.Module):
    """conv3, norm, ReLU, conv3, norm, plus the input (no activation after the sum)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            *_norm_relu(channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def head(cin: int, cout: int) -> nn.Conv2d:
    """An output head: 7x7 conv without bias; the activation is applied by the caller."""
    return nn.Conv2d(cin, cout, 7, padding=3, bias=False)


class EncoderDecoder(nn.Module):
    """Plain encoder-decoder: width -> 8*width at 1/8 size, residual blocks, back to width."""

    def __init__(self, in_channels: int, spec: NetSpec) -> None:
        super().__init__()
        w = spec.width
        layers: list[nn.Module] = [conv7(in_channels, w)]
        c = w
        for _ in range(DOWNSAMPLINGS):
            layers.append(down(c, c * 2))
            c *= 2
        layers += [ResBlock(c) for _ in range(spec.blocks)]
        for _ in range(DOWNSAMPLINGS):
            layers.append(up(c, c // 2))
            c //= 2
        self.body = nn.Sequential(*layers)
        self.out_channels = c

    def final_norm(self) -> nn.Module:
        """The normalisation of the last upsampling block (before its ReLU)."""
        last = self.body[-1]
        assert isinstance(last, nn.Sequential)
        return last[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class UNet(nn.Module):
    """Encoder-decoder with skips at full, 1/2 and 1/4 size (none at the 1/8 bottleneck)."""

    def __init__(self, in_channels: int, spec: NetSpec) -> None:
        super().__init__()
        w = spec.width
        self.stem = conv7(in_channels, w)
        self.downs = nn.ModuleList([down(w * 2**i, w * 2 ** (i + 1)) for i in range(DOWNSAMPLINGS)])
        c = w * 2**DOWNSAMPLINGS
        self.bottleneck = nn.Sequential(*[ResBlock(c) for _ in range(spec.blocks)])
        # up[0]: bottleneck -> 1/4 (no skip in); up[i>0]: concat(decoder, encoder skip) -> next size
        ups = [up(c, c // 2)]
        for i in range(1, DOWNSAMPLINGS):
            ch = w * 2 ** (DOWNSAMPLINGS - i)  # decoder channels at this size == encoder's
            ups.append(up(2 * ch, ch // 2))
        self.ups = nn.ModuleList(ups)
        self.merge = conv7(2 * w, w)
        self.out_channels = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        h = skips[0]
        for d in self.downs:
            h = d(h)
            skips.append(h)
        h = self.bottleneck(h)
        h = self.ups[0](h)
        for i, u in enumerate(self.ups[1:], start=1):
            h = u(torch.cat([h, skips[DOWNSAMPLINGS - i]], dim=1))
        return self.merge(torch.cat([h, skips[0]], dim=1))


def pose_channels(params: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Broadcast a (B, k) parameter batch to (B, k, H, W) constant channels."""
    b, _, h, w = like.shape
    return params.to(like.dtype)[:, :, None, None].expand(b, params.shape[1], h, w)


def compose(alpha: torch.Tensor, image: torch.Tensor, change: torch.Tensor) -> torch.Tensor:
    """alpha * image + (1 - alpha) * change: keep what the input got right, paint the rest."""
    return alpha * image + (1 - alpha) * change


def identity_grid(
    batch: int, height: int, width: int, device: torch.device | str, dtype: torch.dtype
) -> torch.Tensor:
    """The (B, H, W, 2) sampling grid that reproduces the input (align_corners=True convention)."""
    ys = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype)
    xs = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1).unsqueeze(0).expand(batch, height, width, 2)


def apply_flow(image: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Warp `image` by a (B, 2, H, W) offset (x, y in grid units) added to the identity grid."""
    b, _, h, w = image.shape
    grid = identity_grid(b, h, w, image.device, torch.float32) + offset.float().permute(0, 2, 3, 1)
    return F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border", align_corners=True).to(
        image.dtype
    )


def constant_feature(norm: nn.Module) -> None:
    """Make channel 0 after `norm` (an affine InstanceNorm followed by ReLU) the constant 1."""
    assert isinstance(norm, nn.InstanceNorm2d) and norm.weight is not None and norm.bias is not None
    with torch.no_grad():
        norm.weight[0] = 0.0
        norm.bias[0] = 1.0


def start_at(head: nn.Conv2d, value: float) -> None:
    """A bias-free head whose sigmoid starts at `value` everywhere (reads the constant channel 0)."""
    k = head.kernel_size[0] // 2
    with torch.no_grad():
        head.weight.zero_()
        head.weight[:, 0, k, k] = math.log(value / (1.0 - value))


class Network(nn.Module):
    """A THA1 network: its size (`spec`) travels with its weights in checkpoints."""

    spec: NetSpec


class FaceMorpher(Network):
    """Rest image + (left_eye, right_eye, mouth) -> the image with that expression."""

    def __init__(self, spec: NetSpec = NetSpec(), *, keep_input: bool = True) -> None:
        super().__init__()
        self.spec = spec
        self.body = EncoderDecoder(IMAGE_CHANNELS + EXPRESSION_PARAMS, spec)
        self.change = head(spec.width, IMAGE_CHANNELS)
        self.alpha = head(spec.width, IMAGE_CHANNELS)
        if keep_input:
            constant_feature(self.body.final_norm())
            start_at(self.alpha, INITIAL_KEEP)

    def forward(self, image: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        f = self.body(torch.cat([image, pose_channels(expression, image)], dim=1))
        return compose(torch.sigmoid(self.alpha(f)), image, torch.tanh(self.change(f)))


class FaceRotator(Network):
    """Morphed image + (head_x, head_y, neck_z) -> two rotated images (colour change, flow warp)."""

    def __init__(self, spec: NetSpec = NetSpec(), *, keep_input: bool = True) -> None:
        super().__init__()
        self.spec = spec
        self.body = EncoderDecoder(IMAGE_CHANNELS + ROTATION_PARAMS, spec)
        self.change = head(spec.width, IMAGE_CHANNELS)
        self.alpha = head(spec.width, IMAGE_CHANNELS)
        self.flow = head(spec.width, 2)
        # Our choice (THA1 is silent): start from the identity warp. A randomly initialised
        # offset head scatters pixels by up to a quarter of the image and trains much slower.
        nn.init.zeros_(self.flow.weight)
        if keep_input:
            constant_feature(self.body.final_norm())
            start_at(self.alpha, INITIAL_KEEP)

    def forward(self, image: torch.Tensor, rotation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(torch.cat([image, pose_channels(rotation, image)], dim=1))
        by_change = compose(torch.sigmoid(self.alpha(f)), image, torch.tanh(self.change(f)))
        # The flow head runs in float32 even under autocast: its weight gradient sums the offset
        # gradient over every pixel, which overflows float16 at GradScaler's starting scale.
        with torch.autocast(device_type=f.device.type, enabled=False):
            offset = self.flow(f.float())
        by_flow = apply_flow(image, offset)
        return by_change, by_flow


class Combiner(Network):
    """Both rotator outputs + rotation -> one image: mix them by A, then retouch by (B, C)."""

    def __init__(self, spec: NetSpec = NetSpec(), *, keep_input: bool = True) -> None:
        super().__init__()
        self.spec = spec
        self.body = UNet(2 * IMAGE_CHANNELS + ROTATION_PARAMS, spec)
        self.combine_alpha = head(spec.width, IMAGE_CHANNELS)
        self.retouch_change = head(spec.width, IMAGE_CHANNELS)
        self.retouch_alpha = head(spec.width, IMAGE_CHANNELS)
        if keep_input:  # keep the mix (B near 1) of both rotator outputs, evenly (A = 0.5)
            constant_feature(self.body.merge[1])
            start_at(self.retouch_alpha, INITIAL_KEEP)
            nn.init.zeros_(self.combine_alpha.weight)

    def forward(self, by_change: torch.Tensor, by_flow: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
        f = self.body(torch.cat([by_change, by_flow, pose_channels(rotation, by_change)], dim=1))
        a = torch.sigmoid(self.combine_alpha(f))
        mix = a * by_change + (1 - a) * by_flow
        return compose(torch.sigmoid(self.retouch_alpha(f)), mix, torch.tanh(self.retouch_change(f)))


NETWORKS: dict[str, type[FaceMorpher | FaceRotator | Combiner]] = {
    "morpher": FaceMorpher,
    "rotator": FaceRotator,
    "combiner": Combiner,
}
THA1_PARAMETERS = {"morpher": 33_878_720, "rotator": 33_884_992, "combiner": 34_960_704}


def build(name: str, spec: NetSpec = NetSpec(), *, keep_input: bool = True) -> Network:
    """A network by name ('morpher', 'rotator', 'combiner'); `keep_input=False` leaves every head
    at PyTorch's default initialisation (the flow head still starts at zero)."""
    return NETWORKS[name](spec, keep_input=keep_input)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
