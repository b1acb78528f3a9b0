"""The try-on generator: a pix2pix-style U-Net that renders the person and a mask that blends the warped garment in."""
from typing import NamedTuple

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from tryon.models.blocks import ConvNormAct, norm_layer


class GeneratorOutput(NamedTuple):
    """image = mask * warped_cloth + (1 - mask) * rendered.

    image, rendered [N,3,H,W] in [-1,1]; mask [N,1,H,W] in [0,1].
    """

    image: torch.Tensor
    rendered: torch.Tensor
    mask: torch.Tensor


def num_downs_for(height: int, width: int) -> int:
    """Stride-2 levels that bring a 4:3 (H x W) image down to a 4x3 bottleneck: 6 at 256x192, 8 at 1024x768."""
    n = (height // 4).bit_length() - 1
    if height * 3 != width * 4 or height != 4 * 2**n or n < 1:
        raise ValueError(f"height x width must be 4:3 with height 4 * 2**k (e.g. 256x192), got {height}x{width}")
    return n


def _up(in_channels, out_channels, norm, dropout):
    """ConvTranspose 4x4 stride 2 -> norm -> ReLU (-> dropout): doubles the resolution."""
    layers = [
        nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=False),
        norm_layer(norm, out_channels),
        nn.ReLU(inplace=True),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class TryOnGenerator(ModelMixin, ConfigMixin):
    """U-Net built for one resolution: `height` x `width` sets the depth (bottleneck at 4x3), so a model trained at
    256x192 has 6 levels and one for 1024x768 has 8; inputs must have exactly that size.

    Encoder level i: conv 4x4 stride 2 -> norm (not on the outermost) -> LeakyReLU, ngf * 2**i channels capped at
    ngf * 8. Decoder: transposed conv 4x4 stride 2 -> norm -> ReLU, concatenated with the encoder skip; the outermost
    level gives 3 RGB channels (tanh) and 1 mask channel (sigmoid). Transposed convs rather than nearest-upsample +
    conv: measured on CPU, the U-Net trains about twice as fast with them. `dropout` (pix2pix's noise) applies in
    the three innermost decoder levels; off by default so inference is deterministic. The default in_channels is
    the person representation (35) + warped garment RGB and mask (4).
    """

    @register_to_config
    def __init__(self, in_channels: int = 39, ngf: int = 32, height: int = 256, width: int = 192,
                 norm: str = "instance", dropout: float = 0.0):
        super().__init__()
        num_downs = num_downs_for(height, width)
        channels = [min(ngf * 2**i, ngf * 8) for i in range(num_downs)]
        self.down = nn.ModuleList()
        prev = in_channels
        for i, ch in enumerate(channels):
            self.down.append(ConvNormAct(prev, ch, 4, 2, norm=None if i == 0 else norm, act="lrelu"))
            prev = ch
        self.up = nn.ModuleList()
        for i in reversed(range(1, num_downs)):  # level i's output goes back to level i - 1's resolution
            in_ch = channels[i] if i == num_downs - 1 else 2 * channels[i]
            self.up.append(_up(in_ch, channels[i - 1], norm, dropout if i >= num_downs - 3 else 0.0))
        self.out = nn.ConvTranspose2d(2 * channels[0], 4, 4, 2, 1)

    def forward(self, x: torch.Tensor, warped_cloth: torch.Tensor) -> GeneratorOutput:
        """x [N, in_channels, H, W] (the caller's concatenated conditioning), warped_cloth [N,3,H,W] in [-1,1]."""
        size = (self.config.height, self.config.width)
        if tuple(x.shape[-2:]) != size:
            raise ValueError(f"this generator is built for {size[0]}x{size[1]} inputs, got {tuple(x.shape[-2:])}")
        skips = []
        for down in self.down:
            x = down(x)
            skips.append(x)
        x = skips.pop()
        for up in self.up:
            x = torch.cat([up(x), skips.pop()], 1)
        x = self.out(x)
        rendered, mask = torch.tanh(x[:, :3]), torch.sigmoid(x[:, 3:])
        return GeneratorOutput(mask * warped_cloth + (1 - mask) * rendered, rendered, mask)
