"""The human parser: a small U-Net that labels every pixel of a person photo with one of the body-parse labels."""
import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from tryon.data.labels import NUM_PARSE
from tryon.models.blocks import ConvNormAct


class HumanParser(ModelMixin, ConfigMixin):
    """Person RGB [N,3,H,W] in [-1,1] -> logits [N, num_labels, H, W] over `tryon.data.labels.PARSE_LABELS`.

    A full-resolution stem, `depth` stride-2 levels (base_channels * 2**i channels, capped at 8x) and a decoder that
    upsamples bilinearly to each skip's size, so any H x W works (256x192 up to 1024x768).
    """

    @register_to_config
    def __init__(self, in_channels: int = 3, num_labels: int = NUM_PARSE, base_channels: int = 16, depth: int = 5):
        super().__init__()
        channels = [min(base_channels * 2**i, base_channels * 8) for i in range(depth + 1)]
        self.stem = ConvNormAct(in_channels, channels[0])
        self.down = nn.ModuleList(
            nn.Sequential(ConvNormAct(c_in, c_out, stride=2), ConvNormAct(c_out, c_out))
            for c_in, c_out in zip(channels[:-1], channels[1:])
        )
        self.up = nn.ModuleList(ConvNormAct(channels[i + 1] + channels[i], channels[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(channels[0], num_labels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, in_channels, H, W] -> logits [N, num_labels, H, W]."""
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = up(torch.cat([x, skip], 1))
        return self.head(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, in_channels, H, W] -> labels [N, H, W] (int64, argmax of the logits)."""
        return self(x).argmax(1)
