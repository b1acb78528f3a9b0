"""The networks: pure nn.Modules with diffusers' ModelMixin + ConfigMixin (save_pretrained / from_pretrained)."""
from tryon.models.discriminator import MultiScaleDiscriminator
from tryon.models.generator import GeneratorOutput, TryOnGenerator
from tryon.models.parser import HumanParser
from tryon.models.warp import GeometricMatcher, warp

__all__ = ["HumanParser", "GeometricMatcher", "warp", "TryOnGenerator", "GeneratorOutput", "MultiScaleDiscriminator"]
