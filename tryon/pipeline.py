"""TryOnPipeline: a try-on from a raw person photo and a garment photo, at the photo's own resolution.

    pipe = TryOnPipeline.from_pretrained("weights")          # float32 on CPU unless asked otherwise
    out = pipe("me.jpg", "shirt.png")                        # or lists of each, for a batch
    out.images[0].save("me_in_shirt.png")

Steps (each a public method, so evaluation and benchmarks can run or replace one): `frame` loads both photos
(tryon.preprocess.image_io), finds the pose (mediapipe), crops the person at the models' aspect and frames the
garment like the training garments; `represent` parses the crop and builds the cloth-agnostic person exactly as
the training dataset does; `render` runs `warp_garment` and `generate`, which chain the models as training does
(tryon.models.chain), on the crop and, with `mirror_average` (the default), on its mirror image too, and averages
the two renders; `compose` makes the try-on at the crop's own resolution in the photo (up to
tryon.preprocess.framing.MAX_SCALE times the models' size): the warp's grid evaluated at that size samples the
garment photo framed at its own resolution, and the generator's render and composition mask, upsampled, blend it
in, the garment's own pixels wherever it lies whole; `paste` puts that crop back into the photo with a feathered
mask over the old and the new garment (tryon.preprocess.person.paste_region), so every other pixel keeps its
original value.
"""
import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput
from diffusers.utils import logging as diffusers_logging
from PIL import Image, ImageDraw
from scipy import ndimage

from tryon.data.dataset import to_tensor
from tryon.data.labels import NUM_PARSE, PARSE_COLOURS
from tryon.errors import TryOnError
from tryon.files import write_text
from tryon.models import GeometricMatcher, HumanParser, TryOnGenerator
from tryon.models.generator import GeneratorOutput
from tryon.models.pose_warp import read_body
from tryon.models.warp import warp
from tryon.preprocess import framing, uncover
from tryon.preprocess.garment import garment_mask, print_region
from tryon.preprocess.image_io import load_image, save_image
from tryon.preprocess.parse import crop_person_mask, keep_on_body, parse_photos, skin_by_pose
from tryon.preprocess.person import (CLOTH_CHANNELS, GENERATOR_CHANNELS, IN_FRONT_LABELS, PERSON_REPR_CHANNELS,
                                     WAIST_ABOVE_HIPS, agnostic_mask, agnostic_person, check_category, garment_interior,
                                     generator_input, paste_region, shown_region)
from tryon.preprocess.pose import PoseDetector
from tryon.models.chain import (MODEL_CLASSES, batch_repr, load_pretrained, mirror_batch, mirror_grid, print_grid,
                                rigid_prints, warp_garment)

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
# the intermediates saved as they are (TryOnPipelineOutput fields), and every file save_intermediates writes
SAVED_AS_IS = ("agnostic", "garment", "warped_garment", "composition_mask", "paste_mask")
INTERMEDIATE_FILES = ("person.png", "pose.png", "parse.png", *(f"{name}.png" for name in SAVED_AS_IS), "pose.json",
                      "crop_box.json")
FLOW_SIGMA = 2.0  # flow pixels (half the models' size): the smoothing of the flow the full-resolution garment reads
POSE_LAYOUT = ("lower",)  # the categories the default weights' full-body generator learnt behind the pose layout
# The learnt full-body warp, trained on worn dresses cut out of CCP photos, lays a dress photographed flat (half its
# girth wide) short. CCP val's 12 dresses widened 1.45 times, as a flat one is: its hem lands a median 0.46 thighs
# above the worn dress's; stretched 1.5 times below the hip joints, 0.02 high (garment PSNR 24.94 -> 25.91 dB; the
# cut-outs as worn, 26.40 -> 26.81, though these now come out a median 0.27 thighs long).
DRESS_LENGTH = 1.5
PRINT_TRUST = 0.25  # how far the composition mask is raised on a print the two mirror passes lay alike
AGREE = 12.0  # levels: where the two mirror passes' garments differ this much, the composition mask is left as it is
EDGE_BLUR = 4  # models' pixels: how far the upsampled render smears the new garment's edge into what lies around it
MAIN_PART = 0.05  # of the largest part's area: smaller parts of the new garment's silhouette are cut-out crumbs
DETAIL_SIGMA = 1.0  # models' pixels: the garment's detail finer than this is one warp pass's own, never the render's
CLOSE = 4  # models' pixels: notches of the new garment's silhouette narrower than twice this are closed in `uncover`
LIMBS = [(1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
         (1, 0), (0, 14), (14, 16), (0, 15), (15, 17)]


@dataclass
class FramedPerson:
    """A person photo loaded and framed for the models, reusable with any garment (all at model size except `photo`)."""

    photo: Image.Image  # the upright RGB photo, at its own size
    box: tuple[int, int, int, int]  # the crop in photo pixels (may reach past its edges)
    person: np.ndarray  # [H, W, 3] uint8, the crop
    pose: np.ndarray  # [18, 3] joints in the crop's pixels
    person_mask: np.ndarray  # [H, W] bool, where mediapipe sees the person in the crop (the parse stays inside)


@dataclass
class FramedGarment:
    """A garment photo framed like the training garments, reusable on any person: at model size for the models,
    and at its own resolution (framing.garment_frame_size) for the try-on's pixels, framed alike."""

    cloth: np.ndarray  # [H, W, 3] uint8, the garment framed on white
    cloth_mask: np.ndarray  # [H, W] bool
    full: np.ndarray  # [h, w, 3] uint8, the same frame at the garment's resolution, its colours run past its edge
    full_mask: np.ndarray  # [h, w] bool
    prints: np.ndarray  # [H, W] float32 in [0, 1], where `cloth` carries a print (garment.print_region)


@dataclass
class Framed:
    """One person photo and garment, loaded and framed for the models (all at model size except `photo`)."""

    photo: Image.Image  # the upright RGB photo, at its own size
    box: tuple[int, int, int, int]  # the crop in photo pixels (may reach past its edges)
    person: np.ndarray  # [H, W, 3] uint8, the crop
    pose: np.ndarray  # [18, 3] joints in the crop's pixels
    person_mask: np.ndarray  # [H, W] bool, where mediapipe sees the person in the crop
    cloth: np.ndarray  # [H, W, 3] uint8, the garment framed on white
    cloth_mask: np.ndarray  # [H, W] bool
    full: np.ndarray  # [h, w, 3] uint8, the garment framed at its own resolution (see FramedGarment)
    full_mask: np.ndarray  # [h, w] bool
    prints: np.ndarray  # [H, W] float32, where `cloth` carries a print (see FramedGarment)


@dataclass
class Render:
    """The models' work on a batch, at model size: the try-on crops, the generator's own render and its composition
    mask (each the mean of the two passes under mirror averaging), and the direct pass's warp: the warped garment
    with its mask, the TPS control points and the flow refiners' correction (None without refiners), from which
    `compose` evaluates the warp at the photo's resolution (the mirrored pass's too, under mirror averaging)."""

    image: torch.Tensor  # [N, 3, H, W] in [-1, 1]
    rendered: torch.Tensor  # [N, 3, H, W] in [-1, 1]
    composition_mask: torch.Tensor  # [N, 1, H, W] in [0, 1]
    warped: torch.Tensor  # [N, 3, H, W] in [-1, 1]
    warped_mask: torch.Tensor  # [N, 1, H, W] in [0, 1]
    control_points: torch.Tensor  # [N, G, G, 2]
    flow: torch.Tensor | None  # [N, 2, h, w]
    laid_by_pose: torch.Tensor  # [N] bool: the garments the pose laid out (tryon.models.pose_warp)
    mirrored: "Warped | None" = None  # the mirrored pass's warp (in mirrored coordinates), under mirror averaging


class Warped(NamedTuple):
    """The garment warped at model size (RGB [N,3,H,W] in [-1,1], mask [N,1,H,W]), the warp's TPS control points
    [N,G,G,2], its flow refiners' correction ([N,2,h,w], None without refiners) and which garments the pose laid
    out ([N] bool)."""

    image: torch.Tensor
    mask: torch.Tensor
    control_points: torch.Tensor
    flow: torch.Tensor | None
    laid_by_pose: torch.Tensor


@dataclass
class Composite:
    """A try-on crop at its size in the photo ([h, w, 3] uint8) and where it replaces the photo ([h, w] in [0, 1])."""

    image: np.ndarray
    paste_mask: np.ndarray


@dataclass
class TryOnPipelineOutput(BaseOutput):
    """`images`: the try-ons at each photo's own size. With `return_intermediates`, per image, at model size: the
    person crop, pose ([18, 3] in the crop's pixels), parse (labels), the agnostic person, the framed garment, the
    warped garment, the generator's composition mask and the paste mask; and the crop box in photo pixels."""

    images: list
    crop_boxes: list | None = None
    person: list | None = None
    pose: list | None = None
    parse: list | None = None
    agnostic: list | None = None
    garment: list | None = None
    warped_garment: list | None = None
    composition_mask: list | None = None
    paste_mask: list | None = None

    def save_intermediates(self, folder, index: int = 0):
        """Write image `index`'s intermediates into `folder`, each file atomically: INTERMEDIATE_FILES, pose.json in
        the OpenPose 18-joint format."""
        if self.pose is None:
            raise TryOnError("no intermediates: call the pipeline with return_intermediates=True")
        folder = Path(folder)
        person = self.person[index]
        save_image(person, folder / "person.png")
        save_image(draw_pose(person, self.pose[index]), folder / "pose.png")
        save_image(Image.fromarray(PARSE_COLOURS[self.parse[index]]), folder / "parse.png")
        for name in SAVED_AS_IS:
            save_image(getattr(self, name)[index], folder / f"{name}.png")
        pose = {"version": 1.3, "people": [{"pose_keypoints_2d": self.pose[index].reshape(-1).round(3).tolist()}]}
        write_text(folder / "pose.json", json.dumps(pose))
        write_text(folder / "crop_box.json", json.dumps(list(self.crop_boxes[index])))


def draw_pose(image: Image.Image, pose: np.ndarray) -> Image.Image:
    """The joints and limbs of an [18, 3] pose drawn over a copy of `image`."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    r = max(2, image.height // 100)
    for a, b in LIMBS:
        if pose[a, 2] > 0 and pose[b, 2] > 0:
            draw.line([tuple(pose[a, :2]), tuple(pose[b, :2])], fill=(255, 40, 40), width=r)
    for x, y, c in pose:
        if c > 0:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(40, 255, 40))
    return out


def _image(t: torch.Tensor) -> np.ndarray:
    """[3, H, W] in [-1, 1] -> [H, W, 3] uint8."""
    return ((t.float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _blur(t: torch.Tensor, sigma: float) -> torch.Tensor:
    """`t` [N, C, h, w] low-passed by a Gaussian of `sigma` of its pixels (edges repeated); `t` itself for 0."""
    if sigma <= 0:
        return t
    return torch.from_numpy(ndimage.gaussian_filter(t.float().cpu().numpy(), (0, 0, sigma, sigma), mode="nearest"))


def _fine(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """What a Gaussian blur of `sigma` pixels takes away from `image` [N, C, H, W] (edges repeated): its detail."""
    return image.float() - _blur(image, sigma)


def _dechecker(image: torch.Tensor) -> torch.Tensor:
    """`image` [N, C, h, w] filtered by [1, 2, 1] / 4 along each axis (edges repeated), which removes the
    period-2 checkerboard the generator's transposed convolutions leave on photos unlike its training set."""
    k = torch.tensor([1.0, 2.0, 1.0])
    k = (k[:, None] * k[None] / 16).expand(image.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(image.float(), (1, 1, 1, 1), mode="replicate"), k, groups=image.shape[1])


def _sharp_edge(image: torch.Tensor, direct: torch.Tensor, direct_mask: torch.Tensor, seen: torch.Tensor,
                in_front: torch.Tensor, scale: float, strength: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The try-on `image` [1, 3, H, W] (at `scale` times the models' size) with the new garment's edge as sharp as
    the garment photo's, where the upsampled render would blur it: (image, the garment's own silhouette where it
    now shows it, [1, 1, H, W], for the paste mask).

    The silhouette is the direct pass's warped garment mask `direct_mask` (specks and cut-out crumbs taken off,
    `_main_parts`). Within it, as far in as the render's smear reaches (1.5 EDGE_BLUR model pixels, faded), the direct
    pass's warped garment `direct`, its outermost pixels carried in from a little further inside (no fringe of the
    garment photo's own background). Outside it, for EDGE_BLUR model pixels (how far the render smears the garment into
    its surroundings), what the try-on shows beyond that band (`seen`: the image where it is pasted, the photo
    elsewhere) is carried up to the edge. Nothing changes near an arm, the face or hair that may lie over the garment
    (`in_front`, soft), where the render draws them. `strength` in [0, 1] blends the result over `image`."""
    sil = ((_blur(direct_mask, 0.5 * scale) - 0.5) / 0.3 + 0.5).clamp(0, 1)  # smooth, about 1.5 pixels wide
    on = _main_parts(sil[0, 0].numpy() > 0.5, round(scale))
    sil = sil * torch.from_numpy(on)[None, None].float()
    if not on.any():
        return image, torch.zeros_like(sil)
    d = max(1, round(EDGE_BLUR * scale))
    top, bottom, left, right = framing.extent(on)  # work where the edge's reach lies
    y0, y1 = max(0, top - 2 * d), min(on.shape[0], bottom + 2 * d)
    x0, x1 = max(0, left - 2 * d), min(on.shape[1], right + 2 * d)
    box = lambda t: t[..., y0:y1, x0:x1]
    on, sil, image_in, direct, seen, in_front = on[y0:y1, x0:x1], *map(box, (sil, image, direct, seen, in_front))
    as_map = lambda a: torch.from_numpy(np.asarray(a, np.float32))[None, None]
    depth = ndimage.distance_transform_edt(on)  # pixels in from the silhouette's edge (0 outside)
    far = ndimage.distance_transform_edt(~on) > d  # beyond the render's smear
    deep = as_map(np.clip(depth / d - 0.5, 0, 1))  # the render's blur does not reach: from 1.5 d in
    band = as_map(np.clip(depth - 1, 0, 1)) * (1 - deep)
    inside = image_in * (1 - band) + band * direct
    inside = torch.where(as_map(depth > 2) > 0, inside, _carried(inside, depth > 2))
    outside = torch.where(as_map(far) > 0, seen, _box(_carried(seen, far), max(1, d // 4)))
    zone = _blur((1 - in_front.clamp(0, 1)) * (1 - as_map(far)), 1) * (1 - deep) * strength
    image, edge = image.clone(), torch.zeros_like(image[:, :1])
    image[..., y0:y1, x0:x1] = zone * (sil * inside + (1 - sil) * outside) + (1 - zone) * image_in
    edge[..., y0:y1, x0:x1] = zone * sil
    return image, edge


def _carried(t: torch.Tensor, mask: np.ndarray) -> torch.Tensor:
    """`t` [1, 3, H, W] in [-1, 1] with its pixels off `mask` (bool [H, W]) coloured like the nearest on it
    (tryon.preprocess.framing.extend_colours); `t` as it is when `mask` has none."""
    return to_tensor(framing.extend_colours(_image(t[0]), mask))[None] if mask.any() else t


def _box(t: torch.Tensor, r: int) -> torch.Tensor:
    """`t` [N, C, H, W] smoothed by a (2r+1)-pixel box filter twice over (near a Gaussian of sigma about 0.8 r, at a
    cost that does not grow with r; edges repeated)."""
    a = t.float().cpu().numpy()
    for _ in range(2):
        a = ndimage.uniform_filter(a, (1, 1, 2 * r + 1, 2 * r + 1), mode="nearest")
    return torch.from_numpy(a)


def _main_parts(mask: np.ndarray, r: int) -> np.ndarray:
    """Bool `mask` without its specks: opened by `r` pixels, the parts of at least MAIN_PART of the largest kept,
    then grown back within `mask`."""
    opened = ndimage.binary_opening(mask, iterations=r) if r > 0 else mask
    labels, n = ndimage.label(opened)
    if n == 0:
        return opened
    areas = ndimage.sum(opened, labels, range(1, n + 1))
    kept = np.isin(labels, 1 + np.flatnonzero(areas >= MAIN_PART * areas.max()))
    return ndimage.binary_dilation(kept, iterations=r + 1) & mask if r > 0 else kept


def grid_scale(grid: torch.Tensor, where: np.ndarray, frame_size: tuple[int, int]) -> float:
    """The warp's median scale where the garment lands (`where`, a bool array at the models' size): how many pixels
    of a frame of `frame_size` (h, w) `grid` [1, H, W, 2] reads per try-on pixel."""
    h, w = frame_size
    dx = grid[0, :, 1:] - grid[0, :, :-1]
    dy = grid[0, 1:] - grid[0, :-1]
    det = (dx[:-1, :, 0] * dy[:, :-1, 1] - dx[:-1, :, 1] * dy[:, :-1, 0]).abs() * (w / 2) * (h / 2)
    on = F.interpolate(torch.from_numpy(where)[None, None].float(), size=det.shape, mode="nearest")[0, 0] > 0
    return det[on].median().sqrt().item() if on.any() else 1.0


def shrink_frame(garment: torch.Tensor, scale: float) -> torch.Tensor:
    """The garment frame [1, C, h, w] resized (antialiased) down by `scale` (`grid_scale`) where that is over 1.05:
    bilinear sampling at a step of s > 1 frame pixels would alias fine stripes."""
    if scale <= 1.05:
        return garment
    h, w = garment.shape[-2:]
    size = (max(1, round(h / scale)), max(1, round(w / scale)))
    return F.interpolate(garment, size=size, mode="bilinear", align_corners=False, antialias=True)


def shrink_for_grid(garment: torch.Tensor, grid: torch.Tensor, where: np.ndarray) -> torch.Tensor:
    """The garment frame [1, C, h, w] shrunk by the warp `grid`'s scale where the garment lands (`grid_scale`,
    `shrink_frame`)."""
    return shrink_frame(garment, grid_scale(grid, where, garment.shape[-2:]))


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


class TryOnPipeline(DiffusionPipeline):
    """Human parser + geometric matcher (TPS warp) + try-on generator, from raw photos to the try-on.

    Load with `TryOnPipeline.from_pretrained(folder)` (float32 unless `dtype=` says otherwise), move with
    `.to(device)`; float16/bfloat16 are for GPUs. The models' input size is the generator's `height` x `width`.

    `mirror_average` (True unless set otherwise): run the warp and the generator on the mirror image of each
    person and garment too and average the two try-ons (flipped back). On VITON test it raises SSIM by about 0.005
    and PSNR by about 0.3 dB, for about 45% more time end to end on a CPU; False renders in one pass.

    Lower-body garments and dresses go through their own warp and generator (`fullbody_warp`,
    `fullbody_generator`: trained on full-body photos, framed head to feet) when the pipeline has them, tops through
    `warp` and `generator`; a batch may mix categories (`models_for`). Likewise a person framed head to feet is
    parsed by `fullbody_parser` when there is one (a parser trained on street photos), else by `parser`.

    `pose_layout` (POSE_LAYOUT unless set otherwise): the categories laid out by the person's pose
    (tryon.models.pose_warp) instead of the learnt warp, wherever the pose shows the hips and a knee (a dress: and
    both shoulders) and the garment's silhouette can be read. The learnt full-body warp saw 564 worn garments and
    draws a product photo's legs thin and short; laid by the pose, CC0 trousers and skirts cover the legs from the
    hips to the knees in 82% of CCP val persons instead of 43%.
    """

    _optional_components = ["garment_segmenter", "fullbody_parser", "fullbody_warp", "fullbody_generator"]

    def __init__(self, parser: HumanParser, warp: GeometricMatcher, generator: TryOnGenerator,
                 garment_segmenter: HumanParser | None = None, fullbody_parser: HumanParser | None = None,
                 fullbody_warp: GeometricMatcher | None = None, fullbody_generator: TryOnGenerator | None = None):
        super().__init__()
        if (fullbody_warp is None) != (fullbody_generator is None):
            raise TryOnError("the full-body models come as a pair: give both fullbody_warp and fullbody_generator")
        self.register_modules(parser=parser, warp=warp, generator=generator, garment_segmenter=garment_segmenter,
                              fullbody_parser=fullbody_parser, fullbody_warp=fullbody_warp,
                              fullbody_generator=fullbody_generator)
        self.pose_detector = PoseDetector()
        self.mirror_average = True
        self.pose_layout = POSE_LAYOUT

    def models_for(self, category: str) -> tuple[GeometricMatcher, TryOnGenerator]:
        """The (warp, generator) that render a garment of `category`: the full-body pair for a lower-body garment or
        a dress when the pipeline has it, else the tops' pair."""
        if check_category(category) != "upper" and self.fullbody_warp is not None:
            return self.fullbody_warp, self.fullbody_generator
        return self.warp, self.generator

    def parser_for(self, category: str) -> HumanParser:
        """The parser for a person framed for a garment of `category`: the full-body parser for a lower-body garment
        or a dress when the pipeline has one, else the parser."""
        if check_category(category) != "upper" and self.fullbody_parser is not None:
            return self.fullbody_parser
        return self.parser

    def _by_models(self, batch: dict, run) -> list:
        """`run(warp, generator, sub_batch)` (returning a tuple of [n, ...] tensors, or None) on each group of the
        batch that one pair of models renders; the groups' results put back in the batch's order (a group's None
        beside another group's tensor, a flow that one warp does not have, counts as zeros)."""
        groups: dict[int, list[int]] = {}
        for i, category in enumerate(batch["category"]):
            groups.setdefault(id(self.models_for(category)[0]), []).append(i)
        if len(groups) == 1:
            return list(run(*self.models_for(batch["category"][0]), batch))
        order, parts, sizes = [], [], []
        for indices in groups.values():
            index = torch.tensor(indices, device=batch["repr"].device)
            sub = {k: v.index_select(0, index) if isinstance(v, torch.Tensor) else [v[i] for i in indices]
                   for k, v in batch.items()}
            order += indices
            sizes.append(len(indices))
            parts.append(run(*self.models_for(sub["category"][0]), sub))
        back = torch.argsort(torch.tensor(order))
        merged = []
        for values in zip(*parts):
            given = [v for v in values if v is not None]
            if not given:
                merged.append(None)
                continue
            # a group without a flow (a warp without refiners, no garment laid by the pose) has a zero one
            values = [v if v is not None else given[0].new_zeros(n, *given[0].shape[1:]) for v, n in zip(values, sizes)]
            merged.append(torch.cat(values)[back.to(given[0].device)])
        return merged

    @property
    def size(self) -> tuple[int, int]:
        """The models' (height, width)."""
        return self.generator.config.height, self.generator.config.width

    # building and saving ------------------------------------------------------------------------------------
    @classmethod
    def untrained(cls, height: int = 256, width: int = 192, parser_channels: int = 16, parser_depth: int = 5,
                  warp_channels: int = 128, ngf: int = 32, seed: int = 0) -> "TryOnPipeline":
        """A randomly initialised pipeline (the default architecture unless told otherwise): tests and benchmarks."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(
                parser=HumanParser(num_labels=NUM_PARSE, base_channels=parser_channels, depth=parser_depth).eval(),
                warp=GeometricMatcher(person_channels=PERSON_REPR_CHANNELS, cloth_channels=CLOTH_CHANNELS,
                                      feature_channels=warp_channels, work_height=height, work_width=width).eval(),
                generator=TryOnGenerator(in_channels=GENERATOR_CHANNELS, ngf=ngf, height=height, width=width).eval(),
            )

    @classmethod
    def from_models(cls, parser, warp, generator, garment_segmenter=None, fullbody_parser=None, fullbody_warp=None,
                    fullbody_generator=None) -> "TryOnPipeline":
        """Assemble from trained model folders (each a save_pretrained folder, e.g. runs/viton_warp/best); without
        a garment segmenter, garments are cut out of plain backgrounds only; without the full-body models, lower-body
        garments and dresses go through the tops' models (and persons framed head to feet through the parser)."""
        paths = dict(parser=parser, warp=warp, generator=generator, garment_segmenter=garment_segmenter,
                     fullbody_parser=fullbody_parser, fullbody_warp=fullbody_warp, fullbody_generator=fullbody_generator)
        return cls(**{name: path and load_pretrained(MODEL_CLASSES[name], path, name).eval()
                      for name, path in paths.items()})

    def save_pretrained(self, save_directory, dtype: torch.dtype | None = None, **kwargs):
        """Write model_index.json and one folder per model (safetensors); with `dtype` (e.g. torch.float16), the
        weights are stored in it while this pipeline stays as it is."""
        if dtype is None:
            return super().save_pretrained(save_directory, **kwargs)
        cast = {name: torch.nn.Module.to(copy.deepcopy(getattr(self, name)), dtype=dtype)
                for name in MODEL_CLASSES if getattr(self, name) is not None}
        return type(self)(**cast).save_pretrained(save_directory, **kwargs)

    # the steps ------------------------------------------------------------------------------------------------
    def frame(self, person, garment, size: tuple[int, int] | None = None, category: str = "upper") -> Framed:
        """Load a person photo and a garment photo (paths, bytes or PIL) and frame both at the models' size (or at
        `size`, (height, width), of the same aspect: datasets for training are written larger); the person from the
        head to the hips for a top, to the feet for a lower-body garment or a dress.

        Raises TryOnError, saying which of the two is wrong, for anything tryon.preprocess.image_io refuses, a
        photo without a person or without their torso, and a blank garment image.
        """
        return Framed(**vars(self.frame_person(person, size, category)), **vars(self.frame_garment(garment, size)))

    def frame_person(self, person, size: tuple[int, int] | None = None, category: str = "upper") -> FramedPerson:
        """The person half of `frame`: load the photo, find the pose and the person's mask, and crop the person as
        a garment of `category` needs (done once per photo when one photo meets many garments). Raises
        TryOnError("person photo: ...")."""
        height, width = size or self.size
        try:
            photo = load_image(person)
            pose, mask = self.pose_detector.detect(photo)
            box = framing.category_box(pose, category, height, width)
        except TryOnError as e:
            raise TryOnError(f"person photo: {e}") from None
        return FramedPerson(photo=photo, box=box, person=np.asarray(framing.crop(photo, box, height, width)),
                            pose=framing.pose_in_box(pose, box, height, width),
                            person_mask=crop_person_mask(mask, photo.size, box, height, width))

    def frame_garment(self, garment, size: tuple[int, int] | None = None) -> FramedGarment:
        """The garment half of `frame`: load the garment photo and frame it like the training garments, at model
        size and at its own resolution (up to framing.MAX_SCALE times the model size). Raises
        TryOnError("garment image: ...")."""
        height, width = size or self.size
        try:
            cloth_image = load_image(garment, keep_alpha=True)
            cloth_image.thumbnail((framing.MAX_SCALE * width, framing.MAX_SCALE * height), Image.BICUBIC,
                                  reducing_gap=3.0)  # the most a try-on renders
            mask = garment_mask(cloth_image, self.garment_segmenter)
        except TryOnError as e:
            raise TryOnError(f"garment image: {e}") from None
        if cloth_image.getextrema()[3][0] < 255:  # see-through somewhere: lay it on white
            cloth_image = Image.alpha_composite(Image.new("RGBA", cloth_image.size, (255, 255, 255, 255)), cloth_image)
        cloth, cloth_mask = framing.frame_garment(cloth_image, mask, height, width)
        full, full_mask = framing.frame_garment(cloth_image, mask, *framing.garment_frame_size(mask, height, width),
                                                extend=True)
        return FramedGarment(cloth=cloth, cloth_mask=cloth_mask, full=full, full_mask=full_mask,
                             prints=print_region(cloth, cloth_mask))

    @torch.inference_mode()
    def parse(self, people: list, category: str = "upper") -> np.ndarray:
        """Persons framed for a garment of `category` (FramedPerson or Framed, at the models' size) -> body-parse
        labels [N,H,W] uint8 at the models' size, by `parser_for(category)` reading each crop at its own size from
        the photo (tryon.preprocess.parse.parse_photos), background outside each person mask and no shoes above the
        knees (keep_on_body). For a lower-body garment or a dress, each pixel of skin is given the
        part of the body the pose draws nearest (tryon.preprocess.parse.skin_by_pose: the street parser takes
        crossed legs for arms or the face, which a lower-body try-on keeps, so new trousers stopped above them)."""
        labels = parse_photos(self.parser_for(category), [f.photo for f in people], [f.box for f in people],
                              *self.size, crops=[f.person for f in people])
        labels = np.stack([keep_on_body(lab, f.person_mask, f.pose) for lab, f in zip(labels, people)])
        if check_category(category) != "upper":
            labels = np.stack([skin_by_pose(lab, f.pose) for lab, f in zip(labels, people)])
        return labels

    @torch.inference_mode()
    def represent(self, framed: list[Framed], categories: list[str], parse: np.ndarray | None = None) -> dict:
        """Parse the crops and build the model inputs, as tryon.data.dataset builds a training sample.

        `parse` ([N, H, W] labels from `self.parse`), when given, is used instead of parsing the crops again (a
        catalog run parses each model photo once). Returns a batch dict with the dataset's keys (person, cloth,
        cloth_mask, parse, pose, agnostic, agnostic_mask, category) on the pipeline's device and dtype, plus
        `framed` and `repr`, the stacked person representation that both the warp and the generator read.
        """
        device, dtype = self.device, self.dtype
        person = torch.stack([to_tensor(f.person) for f in framed]).to(device)
        if parse is None:
            parse = np.zeros(person[:, 0].shape, np.uint8)
            for category in sorted(set(categories)):  # each category's crops by its parser (parser_for)
                index = [i for i, c in enumerate(categories) if c == category]
                parse[index] = self.parse([framed[i] for i in index], category)
        masks = [agnostic_mask(p, f.pose, c) for p, f, c in zip(parse, framed, categories)]
        tensor = lambda arrays: torch.from_numpy(np.stack(arrays)).to(device)
        batch = {
            "person": person.to(dtype),
            "cloth": torch.stack([to_tensor(f.cloth) for f in framed]).to(device, dtype),
            "cloth_mask": tensor([f.cloth_mask[None] for f in framed]).to(dtype),
            "parse": tensor(parse).long(),
            "pose": tensor([f.pose for f in framed]),
            "agnostic": torch.stack([to_tensor(agnostic_person(f.person, m)) for f, m in zip(framed, masks)]).to(device, dtype),
            "agnostic_mask": tensor([m[None] for m in masks]).to(dtype),
            "prints": tensor([f.prints[None] for f in framed]),
            "category": list(categories),
            "framed": framed,
        }
        batch["repr"] = batch_repr(batch)
        return batch

    @torch.inference_mode()
    def warp_parts(self, batch: dict) -> Warped:
        """The garment warped onto each person at model size, as tryon.models.chain.warp_garment warps it in
        training, with the warp's control points and flow (from which `compose` evaluates it at the photo's size);
        a dress the learnt warp lays is lengthened DRESS_LENGTH times below the hips, which training does not do."""
        run = lambda matcher, _, batch: warp_garment(matcher, batch, batch["repr"], self.pose_layout,
                                                     dress_length=DRESS_LENGTH)
        return Warped(*self._by_models(batch, run))

    def warp_garment(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """The garment warped onto each person: (RGB [N,3,H,W] in [-1,1], mask [N,1,H,W])."""
        return self.warp_parts(batch)[:2]

    @torch.inference_mode()
    def generate(self, batch: dict, warped: torch.Tensor, warped_mask: torch.Tensor):
        """The generator on the person representation and the warped garment: a tryon.models.GeneratorOutput."""
        batch = {**batch, "warped": warped, "warped_mask": warped_mask}
        run = lambda _, generator, b: generator(generator_input(b["repr"], b["warped"], b["warped_mask"]), b["warped"])
        return GeneratorOutput(*self._by_models(batch, run))

    @torch.inference_mode()
    def render(self, batch: dict, mirror_average: bool | None = None) -> Render:
        """`warp_passes`, then `generate`; under mirror averaging (`mirror_average`, None: the pipeline's setting),
        on the mirrored batch too, the two try-ons, renders and composition masks averaged. The warp is the direct
        pass's (`compose` and the paste read it)."""
        warped, other_warp, mirrored = self.warp_passes(batch, mirror_average)
        image, rendered, mask = self.generate(batch, warped.image, warped.mask)
        if mirrored is not None:
            other = self.generate(mirrored, other_warp.image, other_warp.mask)
            image, rendered, mask = ((a + b.flip(-1)) / 2 for a, b in zip((image, rendered, mask), other))
        return Render(image=image, rendered=rendered, composition_mask=mask, warped=warped.image,
                      warped_mask=warped.mask, control_points=warped.control_points, flow=warped.flow,
                      laid_by_pose=warped.laid_by_pose, mirrored=other_warp)

    @torch.inference_mode()
    def warp_passes(self, batch: dict, mirror_average: bool | None = None) -> tuple[Warped, Warped | None, dict | None]:
        """The warp of a batch and, under mirror averaging (`mirror_average`, None: the pipeline's setting), of its
        mirrored batch, prints laid whole (`lay_prints`): (the batch's warp, the mirrored one or None, the mirrored
        batch or None)."""
        mirrored = mirror_batch(batch) if (self.mirror_average if mirror_average is None else mirror_average) else None
        warped, other = self.lay_prints(batch, self.warp_parts(batch), mirrored,
                                        None if mirrored is None else self.warp_parts(mirrored))
        return warped, other, mirrored

    @torch.inference_mode()
    def lay_prints(self, batch: dict, warped: Warped, mirrored: dict | None = None,
                   other: Warped | None = None) -> tuple[Warped, Warped | None]:
        """The warps of a batch (and of its `mirrored` batch, `other`, under mirror averaging) with each garment's
        print (batch["prints"]) laid whole by `print_grid` instead of the flow refiners (`rigid_prints`), by the
        mean of the two passes' under mirror averaging, so the print shows once, where both put it on average.
        Garments the pose lays out keep their layout."""
        laid = [i for i, (by_pose, prints) in enumerate(zip(warped.laid_by_pose, batch["prints"]))
                if not by_pose and (other is None or not other.laid_by_pose[i]) and prints.any()]
        if warped.flow is None or not laid:
            return warped, other
        size = batch["cloth"].shape[-2:]
        flows = list(warped.flow.float().split(1))
        other_flows = None if other is None else list(other.flow.float().split(1))
        for i in laid:
            matcher = self.models_for(batch["category"][i])[0]
            tps = matcher.grid(warped.control_points[i:i + 1], *flows[i].shape[-2:])
            grid = print_grid(tps, flows[i], batch["prints"][i:i + 1])
            if other is not None:
                other_tps = matcher.grid(other.control_points[i:i + 1], *flows[i].shape[-2:])
                grid = (grid + mirror_grid(print_grid(other_tps, other_flows[i], mirrored["prints"][i:i + 1]))) / 2
                other_flows[i] = rigid_prints(other_tps, other_flows[i], mirrored["prints"][i:i + 1],
                                              mirror_grid(grid))
            flows[i] = rigid_prints(tps, flows[i], batch["prints"][i:i + 1], grid)
        relaid = []
        for b, parts, new in ((batch, warped, flows), (mirrored, other, other_flows)):
            if parts is None:
                relaid.append(None)
                continue
            grid = torch.cat([self.models_for(c)[0].sampling_grid(p, f, *size)
                              for c, p, f in zip(b["category"], parts.control_points.split(1), new)])
            relaid.append(parts._replace(image=warp(b["cloth"], grid), mask=warp(b["cloth_mask"], grid, fill=0.0),
                                         flow=torch.cat(new)))
        return relaid[0], relaid[1]

    @torch.inference_mode()
    def compose(self, batch: dict, result: Render) -> list[Composite]:
        """The try-on of each person crop at its own size in the photo (framing.render_size), with its paste mask.

        The warp's grid, evaluated at that size (`warp_full`), samples the garment's full-resolution frame; under mirror
        averaging the mirrored pass's warp does too and the two warped garments are averaged, as the model-size try-ons
        are (sharp where the passes agree). The generator's render and composition mask, upsampled, blend the garment
        in. The mask is raised towards 1 where the warped garment lies whole (tryon.preprocess.person.garment_interior)
        and the two passes lay the same pixels there (within AGREE levels; one pass alone is trusted; on a print, which
        `lay_prints` laid alike in both, at least PRINT_TRUST of the way whatever the gap, and all the way where the
        crop is large enough for the garment's edge to be sharpened, below: letters without the render's glow), so the
        garment's own pixels show, and it is multiplied by the warped garment's own mask, so nothing past its edge comes
        from the garment frame. The render is first rid of the generator's checkerboard (`_dechecker`). The garment's
        detail finer than DETAIL_SIGMA of the models' pixels is the direct pass's own, never the two passes' average
        (which ghosts it where they disagree) nor the render's blur: where the garment shows through the mask it
        replaces the average's, and where the render shows it is added to the render as far as the garment's pixels are
        trusted there (where it lies whole and the passes agree, or on a print). The paste mask is the old garment's
        region (as `paste` makes it, at model size, upsampled) and the new garment's own silhouette at this size, where
        it may show (tryon.preprocess.person.shown_region: within the agnostic region, or for a garment laid out by the
        pose a little past it, never over what the category keeps): the photo keeps its pixels up to the new garment's
        edge wherever the old garment was not, with no band of the generator's blur around it. For a bottom or a dress,
        the old garment's place that the new one leaves bare is painted as the street and the legs (`uncover`). For a
        top or a dress (both laid by the learnt warp), where the crop is larger than the models' size, so that the
        upsampled render smears the new garment's edge more than a pixel wider than at that size (from 1.25 times
        it, fully from 1.5), the edge is made as sharp as the garment photo's
        (`_sharp_edge`): the garment's own pixels up to its silhouette, what lies around it carried up to the edge,
        instead of a halo of the garment's colour on the street and of the street's on the garment; the paste mask takes
        that silhouette in. Near the models' size the render's edge stays: it follows the body better than the warped
        garment's silhouette (VITON test garment PSNR 0.5 dB lower with the sharp edge there), and so it does for
        bottoms at any size (the pose lays them more roughly: a shredded cut-out shows as fragments).
        """
        out = []
        grow = max(1, self.size[0] // 128)
        for i, f in enumerate(batch["framed"]):
            size = framing.render_size(f.box, self.size)
            up = lambda t, mode: F.interpolate(t.float(), size=size, mode=mode, align_corners=False)
            lands = (result.warped_mask[i, 0] > 0.5).cpu().numpy()
            matcher = self.models_for(batch["category"][i])[0]
            warped, warped_mask, shrink = self.warp_full(f, matcher, result.control_points[i:i + 1],
                                                         None if result.flow is None else result.flow[i:i + 1], size,
                                                         lands)
            parse = batch["parse"][i].cpu().numpy()
            interior = ndimage.gaussian_filter(garment_interior(parse, lands, grow).astype(np.float32), grow / 2)
            interior = up(torch.from_numpy(interior)[None, None], "bilinear")
            trust, direct, direct_mask = interior, warped, warped_mask
            # photo pixels the upsampled render's blur adds to its edges and a print's letters; from one more, faded
            # in over the second, a top's or a dress's own pixels take over there (near the models' size the render
            # hedges better over a silhouette or print the warp places a few pixels off; so it does for bottoms, whose
            # pose layouts are rougher: CCP val garment PSNR 16.65 -> 15.37 dB with it; dresses 26.81 -> 26.38, their
            # edges and prints as crisp as a top's)
            excess = EDGE_BLUR * (size[0] / self.size[0] - 1)
            own = float(np.clip(excess - 1, 0, 1)) if batch["category"][i] != "lower" else 0.0
            if result.mirrored is not None:
                other = result.mirrored
                other_warp, other_mask, _ = self.warp_full(f, matcher, other.control_points[i:i + 1],
                                                           None if other.flow is None else other.flow[i:i + 1], size,
                                                           (other.mask[i, 0] > 0.5).cpu().numpy(), mirrored=True,
                                                           scale=shrink)
                gap = ndimage.gaussian_filter((warped - other_warp).abs().mean(1).numpy() * 127.5,
                                              (0, 1.5 * size[0] / self.size[0], 1.5 * size[1] / self.size[1]))
                agree = torch.from_numpy(np.clip(1 - gap / AGREE, 0, 1))[None]
                trust = interior * agree
                if result.flow is not None and not (result.laid_by_pose[i] or other.laid_by_pose[i]):  # laid alike
                    on_print = warp(batch["prints"][i:i + 1].float(), matcher.sampling_grid(
                        result.control_points[i:i + 1], result.flow[i:i + 1], *self.size), fill=0.0)
                    on_print = up(on_print, "bilinear").clamp(0, 1)
                    trust = torch.maximum(trust, interior * on_print)
                    print_trust = PRINT_TRUST + (1 - PRINT_TRUST) * own
                    agree = agree * (1 - print_trust * on_print) + print_trust * on_print
                interior = interior * agree
                warped, warped_mask = (warped + other_warp) / 2, (warped_mask + other_mask) / 2
            alpha = torch.maximum(up(result.composition_mask[i:i + 1], "bilinear"), interior).clamp(0, 1) * warped_mask
            image = alpha * warped + (1 - alpha) * up(_dechecker(result.rendered[i:i + 1]), "bicubic")
            sigma = DETAIL_SIGMA * size[0] / self.size[0]
            fine = _fine(direct, sigma)
            if result.mirrored is not None:  # the average's detail, where the garment shows, is the direct pass's
                image = image + alpha * (warped_mask > 0.99).float() * (fine - _fine(warped, sigma))
            image = image + (1 - alpha) * trust * fine
            agnostic = (batch["agnostic_mask"][i, 0] > 0.5).cpu().numpy()
            old_region = paste_region(parse, agnostic, np.zeros_like(lands), batch["category"][i])
            old = framing.soft_mask(old_region, grow)
            # the photo at the crop's size (edges repeated past it), for what is painted around the new garment
            photo = (to_tensor(np.asarray(framing.crop(f.photo, f.box, *size)))[None]
                     if own > 0 or batch["category"][i] != "upper" else None)
            if batch["category"][i] != "upper":
                image = self.uncover(f, parse, old_region, warped_mask, image, photo)
            shown = up(torch.from_numpy(shown_region(parse, agnostic, batch["category"][i],
                                                     bool(result.laid_by_pose[i])))[None, None], "bilinear")
            paste_mask = torch.maximum(up(torch.from_numpy(old)[None, None], "bilinear"), warped_mask * shown)
            if own > 0:
                seen = image * paste_mask + photo * (1 - paste_mask)
                in_front = up(torch.from_numpy(framing.soft_mask(np.isin(parse, IN_FRONT_LABELS), grow))[None, None],
                              "bilinear")
                image, edge = _sharp_edge(image, direct, direct_mask, seen, in_front, size[0] / self.size[0], own)
                paste_mask = torch.maximum(paste_mask, edge * shown)
            out.append(Composite(image=_image(image[0]), paste_mask=paste_mask[0, 0].clamp(0, 1).numpy()))
        return out

    def uncover(self, framed: Framed, parse: np.ndarray, old_region: np.ndarray, garment: torch.Tensor,
                image: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
        """The try-on `image` ([1,3,H,W] at the crop's size) of a bottom or dress with the old garment's place
        (`old_region`, bool at model size) that the new garment (`garment`, its warped mask [1,1,H,W]) leaves bare
        painted as the street and the legs there (tryon.preprocess.uncover), from `photo` (the person crop at that
        size, [1,3,H,W] in [-1, 1]), instead of the generator's blur of the old or the new garment's colours: below
        the hip joints, and beside the pelvis from the waist down (the pelvis itself, and the forearms and hands,
        keep the render). Unchanged without both hips and a knee (tryon.models.pose_warp.read_body)."""
        body = read_body(framed.pose)
        if body is None:
            return image
        size = image.shape[-2:]
        scale = size[0] / self.size[0]
        grow = max(1, round(scale))
        # the new garment, its notches and holes closed (a cut-out's gaps keep the render, not a patch of street)
        new = ndimage.maximum_filter(garment[0, 0].numpy() > 0.5, 2 * CLOSE * grow + 1)
        new = ndimage.binary_fill_holes(ndimage.minimum_filter(new, 2 * (CLOSE - 1) * grow + 1))
        old = np.asarray(Image.fromarray(old_region).resize(size[::-1], Image.NEAREST))
        arms = np.asarray(Image.fromarray(uncover.arms(framed.pose, self.size, body.span)).resize(size[::-1],
                                                                                             Image.NEAREST))
        full = uncover.scaled(body, scale)
        rows = np.arange(size[0])[:, None]
        hole = old & ~new & ~arms & (rows > full.centre[1] - WAIST_ABOVE_HIPS * full.thigh)
        if not hole.any():
            return image
        # the work is done in a window around the hole, wide enough for the street's texture to be mirrored in
        top, bottom, left, right = framing.extent(hole)
        margin = 4 * grow + (right - left) // 2
        top, left = max(0, top - 4 * grow), max(0, left - margin)
        bottom, right = min(size[0], bottom + 4 * grow), min(size[1], right + margin)
        window = (slice(top, bottom), slice(left, right))
        hidden = ndimage.binary_dilation(old_region, iterations=1)
        legs, across = uncover.leg_tubes(uncover.scaled(body, scale, (left, top)), (bottom - top, right - left),
                                         uncover.leg_scale(parse, body, hidden), covered=new[window])
        below = rows[top:bottom] > full.centre[1]
        hole = hole[window] & (below | (legs < 0.5))  # above the hip joints, beside the pelvis only
        known = ~ndimage.maximum_filter(old[window], 2 * grow + 1) & ~new[window]
        crop = photo[0].permute(1, 2, 0).numpy()
        skin = uncover.skin(parse, hidden)
        fill = uncover.paint_uncovered(crop[window], hole, known, legs * below, across,
                                       uncover.leg_colour(framed.person, skin),
                                       uncover.hem_shadow(new[window], full.thigh), uncover.skin_grain(crop, skin))
        soft = torch.from_numpy(ndimage.uniform_filter(hole.astype(np.float32), grow + 1))
        soft = soft * (1 - garment[0, 0][window])
        out = image.clone()
        out[0, :, top:bottom, left:right] = image[0, :, top:bottom, left:right] * (1 - soft) \
            + torch.from_numpy(fill).permute(2, 0, 1) * soft
        return out

    def warp_full(self, framed: Framed, matcher: GeometricMatcher, control_points: torch.Tensor,
                  flow: torch.Tensor | None, size: tuple[int, int], lands: np.ndarray,
                  mirrored: bool = False, scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor, float]:
        """One garment's full-resolution frame warped at `size` (height, width) by `matcher`'s warp of `control_points`
        [1,G,G,2] and `flow` [1,2,h,w] (the flow low-passed by FLOW_SIGMA: its folds, which shred prints and
        lettering at this size, smoothed out; the bends that place the garment kept):
        (RGB [1,3,H,W] in [-1,1], mask [1,1,H,W], the frame's shrink). The TPS is evaluated on a lattice at most two
        pixels apart and the flow upsampled bicubically; the frame is first shrunk (antialiased) by `scale`, or where
        that is None by as much as the warp shrinks it where the garment lands (`lands`, bool at model size), so
        stripes do not alias: the mirrored pass is given the direct pass's, so that both read the same frame (their
        own medians can round to frames a pixel apart, which shifts a print between them and ghosts it). With
        `mirrored`, the warp is the mirrored pass's: it reads the mirrored frame, and the result is mirrored back."""
        step = max(1, -(-size[0] // (2 * self.size[0])))
        grid = matcher.sampling_grid(control_points, None if flow is None else _blur(flow, FLOW_SIGMA), *size,
                                     flow_mode="bicubic", step=step)
        garment = torch.cat([to_tensor(framed.full), torch.from_numpy(framed.full_mask)[None].float()])[None]
        if mirrored:
            garment = garment.flip(-1)
        scale = grid_scale(grid, lands, garment.shape[-2:]) if scale is None else scale
        garment = shrink_frame(garment, scale)
        warped, warped_mask = warp(garment[:, :3], grid), warp(garment[:, 3:], grid, fill=0.0)
        return (warped.flip(-1), warped_mask.flip(-1), scale) if mirrored else (warped, warped_mask, scale)

    def paste_composites(self, batch: dict, composites: list[Composite]) -> list[Image.Image]:
        """Put `compose`'s try-ons back into the photos, each where its paste mask is on."""
        return [framing.paste(f.photo, f.box, c.image, c.paste_mask) for f, c in zip(batch["framed"], composites)]

    def paste(self, batch: dict, images: torch.Tensor,
              warped_mask: torch.Tensor) -> tuple[list[Image.Image], list[np.ndarray]]:
        """Put model-size crops ([N,3,H,W] in [-1,1]: a quick single-pass render, or the evaluation's baselines)
        back into the photos over the old and the new garment (`warped_mask`, [N,1,H,W] from `warp_garment`):
        (try-ons, paste masks at model size). The try-on itself goes through `compose` and `paste_composites`."""
        grow = max(1, self.size[0] // 128)
        out, alphas = [], []
        parts = zip(batch["framed"], images, batch["parse"], batch["agnostic_mask"], warped_mask, batch["category"])
        for f, image, parse, agnostic, warped, category in parts:
            region = paste_region(parse.cpu().numpy(), (agnostic[0] > 0.5).cpu().numpy(),
                                  (warped[0] > 0.5).cpu().numpy(), category)
            alpha = framing.soft_mask(region, grow)
            out.append(framing.paste(f.photo, f.box, _image(image), alpha))
            alphas.append(alpha)
        return out, alphas

    # the whole try-on -----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def __call__(self, person, garment, category="upper", return_intermediates: bool = False,
                 mirror_average: bool | None = None) -> TryOnPipelineOutput:
        """Try `garment` on `person`: each a path, bytes, PIL image or uint8 array, or a list of them (a batch, one
        garment per person). `category` is one of tryon.data.labels.CATEGORIES, or a list with one per person.
        `mirror_average` (None: the pipeline's setting) says whether to average with the mirrored render.

        Returns a TryOnPipelineOutput whose `images` are the try-ons at each photo's own size; bad input raises
        TryOnError. The same inputs always give the same output, alone or in a batch.
        """
        persons, garments = _as_list(person), _as_list(garment)
        if not persons:
            raise TryOnError("no person photo given")
        if len(persons) != len(garments):
            raise TryOnError(f"{len(persons)} person photos but {len(garments)} garments: give one garment per photo")
        categories = _as_list(category) if isinstance(category, (list, tuple)) else [category] * len(persons)
        if len(categories) != len(persons):
            raise TryOnError(f"{len(categories)} categories for {len(persons)} photos: give one, or one per photo")
        for c in categories:
            check_category(c)
        framed = [self.frame(p, g, category=c) for p, g, c in zip(persons, garments, categories)]
        batch = self.represent(framed, categories)
        result = self.render(batch, mirror_average)
        composites = self.compose(batch, result)
        images = self.paste_composites(batch, composites)
        if not return_intermediates:
            return TryOnPipelineOutput(images=images)
        to_pil = lambda arrays: [Image.fromarray(a) for a in arrays]
        return TryOnPipelineOutput(
            images=images,
            crop_boxes=[f.box for f in framed],
            person=to_pil(f.person for f in framed),
            pose=[f.pose for f in framed],
            parse=list(batch["parse"].to(torch.uint8).cpu().numpy()),
            agnostic=to_pil(_image(a) for a in batch["agnostic"]),
            garment=to_pil(f.cloth for f in framed),
            warped_garment=to_pil(_image(w) for w in result.warped),
            composition_mask=to_pil((m[0].float().cpu().numpy() * 255 + 0.5).astype(np.uint8)
                                    for m in result.composition_mask),
            paste_mask=[Image.fromarray((c.paste_mask * 255 + 0.5).astype(np.uint8)).resize(self.size[::-1], Image.BILINEAR)
                        for c in composites],
        )


def check_device(device) -> None:
    """TryOnError when `device` is not a device name, or names a GPU this machine does not have."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise TryOnError(f"unknown device {device!r}: use cpu, cuda, cuda:1, ...") from None
    if device.type not in ("cpu", "cuda"):
        raise TryOnError(f"device {device} is not supported: use cpu or cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TryOnError("no CUDA GPU here: use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise TryOnError(f"no GPU {device} here ({torch.cuda.device_count()} found)")


def load_pipeline(weights=None, device: str = "cpu", dtype: torch.dtype = torch.float32,
                  mirror_average: bool = True) -> TryOnPipeline:
    """The pipeline saved in `weights` (default: the repository's weights/ folder), on `device` in `dtype`;
    `mirror_average=False` renders in one pass (see TryOnPipeline)."""
    folder = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    if not (folder / "model_index.json").is_file():
        raise TryOnError(f"{folder}: no trained pipeline here (model_index.json is missing); pass --weights with a "
                         "folder written by TryOnPipeline.save_pretrained (see scripts/export_weights.py)")
    check_device(device)
    log.debug("loading the try-on pipeline from %s", folder)
    shown = diffusers_logging.is_progress_bar_enabled()
    diffusers_logging.disable_progress_bar()  # three small models load at once; a bar would only clutter stderr
    try:
        pipe = TryOnPipeline.from_pretrained(folder, dtype=dtype).to(device)
    finally:
        if shown:
            diffusers_logging.enable_progress_bar()
    pipe.mirror_average = mirror_average
    return pipe


def export_weights(parser, warp, generator, out, dtype: torch.dtype = torch.float16, garment_segmenter=None,
                   fullbody_parser=None, fullbody_warp=None, fullbody_generator=None) -> Path:
    """Assemble a pipeline from trained model folders and save it to `out` with weights in `dtype`."""
    pipe = TryOnPipeline.from_models(parser, warp, generator, garment_segmenter, fullbody_parser, fullbody_warp,
                                     fullbody_generator)
    pipe.save_pretrained(out, dtype=dtype)
    log.info("saved the pipeline (%s weights) to %s", dtype, out)
    return Path(out)
