"""Training configuration: one plain dataclass for every stage, read from a TOML file and/or command-line flags."""
import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tryon.data.dataset import check_cloth_masks
from tryon.errors import TryOnError
from tryon.models.chain import pose_layout_categories

STAGES = ("parser", "garment", "warp", "generator")


@dataclass
class TrainConfig:
    stage: str = "generator"  # parser | garment (the garment segmenter) | warp | generator
    data: str = ""  # dataset folder (VITON, VITON-HD or DressCode layout)
    layout: str | None = None  # detected when None
    extra_data: str = ""  # warp and generator stages: another dataset folder whose train pairs join `data`'s
    extra_repeat: int = 1  # how many times extra_data's pairs are listed (to weigh a small set against a large one)
    output_dir: str = "runs/generator"
    height: int = 256
    width: int = 192

    # optimisation
    steps: int = 20000  # optimizer steps in all (not counting accumulation)
    time_limit_s: float = 0  # stop (checkpoint, validate, export) once a run has trained this long; 0: no limit
    batch_size: int = 8  # per process
    grad_accum: int = 1
    lr: float = 2e-4
    lr_d: float = 2e-4  # discriminator (generator stage)
    lr_decay_from: int = 0  # from this step the learning rates fall linearly to 0 at `steps` (pix2pix); 0: constant
    beta1: float = 0.5
    beta2: float = 0.999
    mixed_precision: str = "no"  # no | fp16 | bf16 (bf16 also autocasts on CPU)
    ema_decay: float = 0.999  # generator stage; 0 disables the EMA copy
    seed: int = 0
    num_workers: int = 2
    augment: bool = True
    cloth_masks: str = "dataset"  # dataset: its cloth-mask files; computed: cut from the garment photo as at inference

    # models
    init: str | None = None  # a saved model folder of this stage (or a pipeline folder) to fine-tune from
    warp_model: str | None = None  # generator stage: the trained warp (a model folder or a pipeline folder)
    pose_layout: str = ""  # generator stage: categories laid out by the pose, as the pipeline lays them ("lower,dress")
    grow_agnostic: float = 0.0  # bottoms and dresses: grow the agnostic region up to this share of the height
    lengthen: float = 0.0  # warp and generator stages: the share of bottoms and dresses showing bare legs repainted
    #                        as under a longer garment (tryon.data.dataset.longer_garment)
    street: float = 0.0  # warp and generator stages: the share of persons laid over the streets beside CCP's (`ccp`)
    parser_channels: int = 32
    parser_backbone: str = "unet"  # parser and garment stages: unet (from scratch) | efficientnet_lite0 (ImageNet)
    ccp: str = ""  # parser and garment stages: a CCP folder whose train split joins the data (val split validates);
    #                warp and generator stages with `street`: the CCP folder whose train photos' streets are used
    backgrounds: str = ""  # parser stage: a folder of photos without people to lay the dataset's persons over
    ccp_repeat: int = 1  # parser stage: how many times each CCP photo counts per epoch (it has fewer photos)
    viton_studio: float = 0.2  # parser stage: the share of the dataset's persons kept on their studio background
    label_weights: str = ""  # parser and garment stages: "dress=3,shoes=2" weighs those labels' pixels in the loss
    parser_framing: str = "upper"  # parser stage: CCP framed head-and-torso to full body, validated head to hips
    #                                (upper), or framed and validated head to feet only (full: the full-body parser)
    warp_grid_size: int = 5
    warp_flow_channels: int = 0  # warp stage: a dense flow refiner after the TPS (base channels); 0: TPS only
    warp_flow_stages: int = 1  # warp stage: flow refiners in cascade (a warp with more keeps them)
    ngf: int = 32
    ndf: int = 64
    num_d: int = 2

    # losses
    gan_mode: str = "lsgan"  # lsgan | hinge
    lambda_gan: float = 1.0  # generator stage: the adversarial term (lower it to fine-tune against a fresh D)
    lambda_l1: float = 10.0
    lambda_ssim: float = 0.0  # generator and warp stages: 1 - SSIM of the image (the metric's own window); 0: off
    lambda_fm: float = 10.0
    lambda_vgg: float = 10.0  # used only with vgg_weights
    lambda_perceptual: float = 0.0  # generator stage: L1 of EfficientNet-Lite0 ImageNet features (strides 2-8); 0: off
    lambda_aligned: float = 0.0  # generator stage: 1 - composition mask where the warped garment matches the person
    aligned_threshold: float = 0.2  # mean |warped - person| over RGB (images in [-1, 1]) under which a pixel matches
    lambda_mask: float = 1.0
    lambda_grid: float = 0.04  # warp stage: TPS control-grid smoothness
    lambda_flow: float = 1.0  # warp stage: total variation of the flow refiner's correction (grid units)
    lambda_print: float = 0.0  # warp stage: L1 of the print laid whole (print_grid) against the person; 0: off
    vgg_weights: str | None = None  # local VGG19 weights file; nothing is downloaded

    # bookkeeping
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 20
    sample_every: int = 500
    val_split: str = "test"
    val_every: int = 0  # steps between validations; 0: once per epoch
    val_samples: int = 64

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not _has_type(value, field.type):
                raise TryOnError(f"{field.name} must be {_TYPE_NAMES[field.type]}, not {value!r}")
        if self.stage not in STAGES:
            raise TryOnError(f"unknown stage {self.stage!r}: choose one of {', '.join(STAGES)}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise TryOnError(f"mixed_precision must be no, fp16 or bf16, not {self.mixed_precision!r}")
        if self.parser_backbone not in ("unet", "efficientnet_lite0"):
            raise TryOnError(f"parser_backbone must be unet or efficientnet_lite0, not {self.parser_backbone!r}")
        if not 0 <= self.viton_studio <= 1:
            raise TryOnError(f"viton_studio must be between 0 and 1, not {self.viton_studio}")
        if self.parser_framing not in ("upper", "full"):
            raise TryOnError(f"parser_framing must be upper or full, not {self.parser_framing!r}")
        if self.gan_mode not in ("lsgan", "hinge"):
            raise TryOnError(f"gan_mode must be lsgan or hinge, not {self.gan_mode!r}")
        check_cloth_masks(self.cloth_masks)
        pose_layout_categories(self.pose_layout)
        for name in ("steps", "batch_size", "grad_accum", "checkpoint_every", "keep_checkpoints", "log_every",
                     "sample_every", "val_samples", "height", "width", "parser_channels", "ccp_repeat", "extra_repeat",
                     "warp_flow_stages", "ngf", "ndf", "num_d"):
            if getattr(self, name) < 1:
                raise TryOnError(f"{name} must be at least 1")
        if self.warp_grid_size < 2:
            raise TryOnError(f"warp_grid_size must be at least 2, not {self.warp_grid_size}")
        for name in ("time_limit_s", "num_workers", "val_every", "lambda_gan", "lambda_l1", "lambda_ssim", "lambda_fm",
                     "lambda_vgg", "lambda_perceptual", "lambda_aligned", "lambda_mask", "lambda_grid", "grow_agnostic",
                     "lengthen", "lambda_flow", "lambda_print", "warp_flow_channels"):
            if getattr(self, name) < 0:
                raise TryOnError(f"{name} must be 0 or more, not {getattr(self, name)}")
        for name in ("lr", "lr_d", "aligned_threshold"):
            if not getattr(self, name) > 0:
                raise TryOnError(f"{name} must be above 0, not {getattr(self, name)}")
        for name in ("beta1", "beta2", "ema_decay"):
            if not 0 <= getattr(self, name) < 1:
                raise TryOnError(f"{name} must be at least 0 and below 1, not {getattr(self, name)}")
        if not 0 <= self.lr_decay_from < self.steps:
            raise TryOnError(f"lr_decay_from must be 0 (no decay) or a step before steps ({self.steps}), not {self.lr_decay_from}")
        step = 32 if self.stage in ("parser", "garment") else 64  # the parsers halve a side 5 times, the others 6
        if self.height % step or self.width % step or self.height * 3 != self.width * 4:
            raise TryOnError(f"{self.height}x{self.width}: use a 4:3 size whose sides are multiples of {step} "
                             f"(256x192, {'384x288, ' if step == 32 else ''}512x384, 1024x768)")


_TYPE_NAMES = {int: "a whole number", float: "a number", bool: "true or false", str: "a string",
               str | None: "a string (or unset)"}


def _has_type(value, kind) -> bool:
    """Whether a config value is of its field's type (a whole number counts as a float; a bool is no number)."""
    if value is None:
        return kind == str | None
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, str if kind == str | None else kind)


def load_config(path=None, **overrides) -> TrainConfig:
    """A TrainConfig from a TOML file (optional) with keyword overrides on top (None values are ignored)."""
    values = {}
    if path is not None:
        p = Path(path)
        try:
            values = tomllib.loads(p.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise TryOnError(f"{p}: cannot read the config file ({e})") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise TryOnError(f"unknown config keys: {', '.join(unknown)}")
    return TrainConfig(**values)
