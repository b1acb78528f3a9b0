"""The multi-scale conditional PatchGAN discriminator (pix2pixHD), which also gives features for feature matching."""
import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

from tryon.models.blocks import ConvNormAct


class PatchDiscriminator(nn.Module):
    """PatchGAN (70x70 receptive field at n_layers=3): n_layers stride-2 4x4 convs, one stride-1, then a 1-channel conv.

    forward returns every layer's output, the last being the patch predictions [N, 1, h, w].
    """

    def __init__(self, in_channels: int, ndf: int, n_layers: int):
        super().__init__()
        channels = [min(ndf * 2**i, ndf * 8) for i in range(n_layers + 1)]
        self.layers = nn.ModuleList([ConvNormAct(in_channels, channels[0], 4, 2, norm=None, act="lrelu")])
        for i in range(1, n_layers + 1):
            stride = 2 if i < n_layers else 1
            self.layers.append(ConvNormAct(channels[i - 1], channels[i], 4, stride, act="lrelu"))
        self.layers.append(nn.Conv2d(channels[-1], 1, 4, padding=1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features


class MultiScaleDiscriminator(ModelMixin, ConfigMixin):
    """`num_scales` PatchGANs: scale s sees the input average-pooled s times by 2 (3x3, stride 2, as pix2pixHD).

    Conditional: forward(cond, image) judges the pair torch.cat([cond, image], 1), so `in_channels` counts both
    (default: the 39-channel generator input + RGB). `spectral_norm` wraps every conv.
    """

    @register_to_config
    def __init__(self, in_channels: int = 39 + 3, ndf: int = 64, n_layers: int = 3, num_scales: int = 2,
                 spectral_norm: bool = False):
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(in_channels, ndf, n_layers) for _ in range(num_scales))
        if spectral_norm:
            for module in list(self.modules()):
                if isinstance(module, nn.Conv2d):
                    apply_spectral_norm(module)

    def forward(self, cond: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        """cond [N, C, H, W], image [N, in_channels - C, H, W] -> per scale, the list of its layers' outputs."""
        x = torch.cat([cond, image], 1)
        outputs = []
        for i, scale in enumerate(self.scales):
            if i > 0:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(scale(x))
        return outputs
