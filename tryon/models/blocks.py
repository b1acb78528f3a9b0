"""Building blocks shared by the models: a normalisation layer by name and conv -> norm -> activation."""
import math

from torch import nn

NORMS = ("instance", "group")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Affine InstanceNorm ("instance") or GroupNorm with up to 32 groups ("group"); both work at batch 1."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "group":
        return nn.GroupNorm(math.gcd(32, channels), channels)
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


class ConvNormAct(nn.Sequential):
    """Conv2d (padding (kernel - 1) // 2) -> optional norm -> optional activation ("relu" or "lrelu", slope 0.2).

    The conv has a bias only when no norm follows it.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, norm="instance", act="relu"):
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, bias=norm is None)]
        if norm is not None:
            layers.append(norm_layer(norm, out_channels))
        if act == "relu":
            layers.append(nn.ReLU(inplace=True))
        elif act == "lrelu":
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        elif act is not None:
            raise ValueError(f"act must be 'relu', 'lrelu' or None, got {act!r}")
        super().__init__(*layers)
