"""The try-on at the photo's resolution (TryOnPipeline.compose) and its seam, on tiny untrained models: the warp of an
untrained GeometricMatcher is the identity, so the garment's frame lies over the person crop as it is."""
import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from tryon.data.labels import PARSE_LUTS
from tryon.models.generator import GeneratorOutput
from tryon.pipeline import TryOnPipeline
from tryon.preprocess import framing


def _garment_photo(pattern, background=(255, 255, 255), size=(1024, 768)) -> Image.Image:
    """A T-shirt-like block (body and sleeves) filled with `pattern(h, w) -> [h, w, 3]` on a plain background."""
    h, w = size
    photo = np.empty((h, w, 3), np.uint8)
    photo[:] = background
    inside = np.zeros((h, w), bool)
    inside[int(0.12 * h):int(0.9 * h), int(0.25 * w):int(0.75 * w)] = True  # body
    inside[int(0.12 * h):int(0.3 * h), int(0.1 * w):int(0.9 * w)] = True  # sleeves
    photo[inside] = pattern(h, w)[inside]
    return Image.fromarray(photo)


def _checkerboard(cell):
    def pattern(h, w):
        yy, xx = np.mgrid[0:h, 0:w]
        on = ((yy // cell + xx // cell) % 2).astype(bool)
        return np.where(on[..., None], np.uint8([30, 30, 120]), np.uint8([220, 90, 60]))
    return pattern


def _drawn(pipe, monkeypatch, background=None, scale=1.0):
    """A synthetic person photo (1024x768 times `scale`; its background one colour if given) and `pipe` made to
    parse it as it was drawn (an untrained parser's labels are noise)."""
    from tryon.data.synthetic import make_sample

    sample = make_sample(np.random.default_rng(3), (1024, 768))
    photo = sample.person.copy()
    if background is not None:
        photo[sample.parse == 0] = background
    size = (round(768 * scale), round(1024 * scale))
    photo = Image.fromarray(photo).resize(size, Image.BICUBIC)
    labels = np.asarray(Image.fromarray(PARSE_LUTS["lip"][sample.parse]).resize(size, Image.NEAREST))
    left, top, right, bottom = pipe.frame_person(photo).box
    pad = ((max(0, -top), max(0, bottom - size[1])), (max(0, -left), max(0, right - size[0])))
    labels = np.pad(labels, pad, mode="edge")[top + pad[0][0]:bottom + pad[0][0], left + pad[1][0]:right + pad[1][0]]
    parse = np.asarray(Image.fromarray(labels).resize(pipe.size[::-1], Image.NEAREST))
    monkeypatch.setattr(pipe, "parse", lambda person, person_mask=None, category="upper", poses=None: parse[None])
    return photo, sample


def _high_frequency(rgb: np.ndarray, region: np.ndarray) -> float:
    """Mean |luminance - its sigma-1.5 blur| over `region`: what a blur takes away."""
    y = rgb.astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
    return float(np.abs(y - ndimage.gaussian_filter(y, 1.5))[region].mean())


def _in_photo(pipe, framed, mask: torch.Tensor, erode: int) -> np.ndarray:
    """A model-size bool mask, eroded, at the photo's size where the crop box lies (False outside it)."""
    m = ndimage.binary_erosion(mask.cpu().numpy(), iterations=erode)
    left, top, right, bottom = framed.box
    big = np.asarray(Image.fromarray(m).resize((right - left, bottom - top), Image.NEAREST))
    W, H = framed.photo.size
    out = np.zeros((H, W), bool)
    out[max(top, 0):min(bottom, H), max(left, 0):min(right, W)] = big[max(0, -top):min(bottom, H) - top,
                                                                        max(0, -left):min(right, W) - left]
    return out


def test_a_fine_checkerboard_keeps_its_detail_at_four_times_the_model_size(tiny_pipeline_dir, monkeypatch):
    """At the photo's resolution the garment's own pixels show; the model-size render pasted back (the path before
    compose) has lost the pattern."""
    pipe = TryOnPipeline.from_pretrained(tiny_pipeline_dir)
    photo, _ = _drawn(pipe, monkeypatch, scale=1.7)  # the person crop about 4x the model size
    framed = pipe.frame(photo, _garment_photo(_checkerboard(3)))
    assert framing.render_size(framed.box, pipe.size)[0] >= 3.5 * pipe.size[0]
    batch = pipe.represent([framed], ["upper"])
    result = pipe.render(batch)
    full = np.asarray(pipe.paste_composites(batch, pipe.compose(batch, result))[0])
    model_size = np.asarray(pipe.paste(batch, result.image, result.warped_mask)[0][0])
    inside = (result.warped_mask[0, 0] > 0.5) & (batch["agnostic_mask"][0, 0] > 0.5)
    region = _in_photo(pipe, framed, inside, erode=4)
    own = _high_frequency(framed.full, ndimage.binary_erosion(framed.full_mask, iterations=8))
    assert region.sum() > 10_000
    assert _high_frequency(full, region) > 0.5 * own
    assert _high_frequency(model_size, region) < 0.2 * own


def test_where_the_mirror_passes_disagree_the_detail_is_one_passs_own(tiny_pipeline_dir, monkeypatch):
    """The mirrored pass lays the checkerboard 5 pixels aside (agreement low, so the composition mask is the
    generator's, here 0.5) and the generator renders a blur: the average of the two passes and the render would
    lose the pattern; the try-on keeps the direct pass's fine detail, over the same low frequencies."""
    import tryon.pipeline as tp

    pipe = TryOnPipeline.from_pretrained(tiny_pipeline_dir)
    photo, _ = _drawn(pipe, monkeypatch, scale=1.7)
    framed = pipe.frame(photo, _garment_photo(_checkerboard(3)))
    batch = pipe.represent([framed], ["upper"])
    warp_full = pipe.warp_full

    def aside(*args, mirrored=False, **kwargs):
        warped, mask, scale = warp_full(*args, mirrored=mirrored, **kwargs)
        return (torch.roll(warped, 5, dims=-1) if mirrored else warped), mask, scale

    def blur(batch, warped, warped_mask):
        rendered = torch.nn.functional.avg_pool2d(warped, 5, 1, 2, count_include_pad=False)
        return GeneratorOutput(rendered, rendered, torch.full_like(warped_mask, 0.5))

    monkeypatch.setattr(pipe, "warp_full", aside)
    monkeypatch.setattr(pipe, "generate", blur)
    result = pipe.render(batch)
    compose = lambda: np.asarray(pipe.paste_composites(batch, pipe.compose(batch, result))[0]).astype(np.float32)
    full = compose()
    monkeypatch.setattr(tp, "_fine", lambda image, sigma: torch.zeros_like(image))
    averaged = compose()
    inside = (result.warped_mask[0, 0] > 0.5) & (batch["agnostic_mask"][0, 0] > 0.5)
    region = _in_photo(pipe, framed, inside, erode=4)
    own = _high_frequency(framed.full, ndimage.binary_erosion(framed.full_mask, iterations=8))
    assert region.sum() > 10_000
    assert _high_frequency(full, region) > 0.25 * own  # half the direct pass's own (the mask is 0.5 there)
    assert _high_frequency(full, region) > 1.6 * _high_frequency(averaged, region)
    low = lambda rgb: ndimage.gaussian_filter(rgb @ np.float32([0.299, 0.587, 0.114]), 8)
    assert np.abs(low(full) - low(averaged))[region].mean() < 2.0


@pytest.mark.parametrize("background", [(255, 255, 255), (0, 0, 0)], ids=["white", "black"])
def test_no_fringe_where_the_new_garment_meets_the_background(tiny_pipeline_dir, monkeypatch, background):
    """A mid-tone garment (cut out of a white product photo) on a person against a white or a black background,
    with a generator that copies the warped garment and renders the background colour elsewhere: along the new
    garment's edge every pixel lies between the garment's and the background's luminance. Matting the garment on
    white before resampling it (a light band on black) or resampling the render with overshoot would not."""
    pipe = TryOnPipeline.from_pretrained(tiny_pipeline_dir)
    photo, sample = _drawn(pipe, monkeypatch, background)
    colour = np.uint8([150, 40, 40])
    garment = _garment_photo(lambda h, w: np.broadcast_to(colour, (h, w, 3)))
    fill = torch.tensor(background, dtype=torch.float32).view(1, 3, 1, 1) / 127.5 - 1

    def flat(batch, warped, warped_mask):  # composition mask 1, its own render the background's colour
        return GeneratorOutput(warped, fill.expand_as(warped).clone(), torch.ones_like(warped_mask))

    monkeypatch.setattr(pipe, "generate", flat)
    out = np.asarray(pipe(photo, garment, mirror_average=False).images[0]).astype(np.float32)
    luma = np.float32([0.299, 0.587, 0.114])
    y = out @ luma
    lo, hi = sorted([float(colour @ luma), float(np.float32(background) @ luma)])
    changed = np.abs(out - np.asarray(photo)).max(-1) > 0
    on_background = changed & ndimage.binary_erosion(sample.parse == 0, iterations=6)  # the new garment, its edge
    edge = on_background & ~ndimage.binary_erosion(changed, iterations=4)
    assert edge.sum() > 200
    outside = y[on_background][(y[on_background] < lo - 6) | (y[on_background] > hi + 6)]
    assert outside.size <= 0.01 * edge.sum(), f"{outside.size} pixels outside [{lo}, {hi}] ({edge.sum()} at the edge)"


def test_the_new_garments_edge_is_as_sharp_as_its_photo_at_four_times_the_model_size(tiny_pipeline_dir, monkeypatch):
    """A flat garment narrower than the torso, and a generator that renders a blur of it on grey, as an upsampled
    render is: where the garment's edge lies inside the repainted region (off arms, face and hair) the try-on goes
    from the garment's colour to the grey within a pixel or two; pasting the upsampled render there (the path
    without `_sharp_edge`) leaves a band many pixels wide."""
    import tryon.pipeline as tp
    from tryon.data.labels import P

    pipe = TryOnPipeline.from_pretrained(tiny_pipeline_dir)
    photo, _ = _drawn(pipe, monkeypatch, scale=1.7)
    colour, grey = np.uint8([150, 40, 40]), 200.0

    garment = np.full((1024, 768, 3), 255, np.uint8)
    garment[200:900, 320:470] = colour  # narrower than the torso: its sides lie in the repainted region
    framed = pipe.frame(photo, Image.fromarray(garment))
    batch = pipe.represent([framed], ["upper"])
    fill = torch.full((1, 3, 1, 1), grey / 127.5 - 1)

    def blurred(batch, warped, warped_mask):  # the garment on grey, blurred over 7 model pixels; mask 0
        rendered = torch.nn.functional.avg_pool2d(warped * warped_mask + fill * (1 - warped_mask), 7, 1, 3,
                                                  count_include_pad=False)
        return GeneratorOutput(rendered, rendered, torch.zeros_like(warped_mask))

    monkeypatch.setattr(pipe, "generate", blurred)
    result = pipe.render(batch, mirror_average=False)
    size = framing.render_size(framed.box, pipe.size)
    assert size[0] >= 3.5 * pipe.size[0]
    parse = batch["parse"][0].numpy()
    lands = result.warped_mask[0, 0].numpy() > 0.5
    edge = lands ^ ndimage.binary_erosion(lands)
    keep_off = ndimage.binary_dilation(np.isin(parse, [P["left_arm"], P["right_arm"], P["face"], P["hair"]]),
                                       iterations=6)
    near = ndimage.binary_dilation(edge, iterations=5) & ~keep_off
    near &= ndimage.binary_erosion(batch["agnostic_mask"][0, 0].numpy() > 0.5, iterations=8)
    up = lambda m: np.asarray(Image.fromarray(m).resize(size[::-1], Image.NEAREST))
    near, edge = up(near), up(edge & near)
    assert edge.sum() > 300

    def band_width():
        y = pipe.compose(batch, result)[0].image.astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
        lo, hi = float(colour @ np.float32([0.299, 0.587, 0.114])), grey
        between = (y > lo + 0.2 * (hi - lo)) & (y < hi - 0.2 * (hi - lo))
        return (between & near).sum() / (edge.sum() / (size[0] / pipe.size[0]))  # pixels across, per edge pixel

    sharp = band_width()
    monkeypatch.setattr(tp, "_sharp_edge", lambda image, *args: (image, torch.zeros_like(image[:, :1])))
    blurred_band = band_width()
    assert sharp < 3.0, sharp
    assert blurred_band > 2 * sharp and blurred_band > 6.0, (sharp, blurred_band)


def test_specks_and_crumbs_of_the_silhouette_are_taken_off():
    from tryon.pipeline import _main_parts

    mask = np.zeros((200, 150), bool)
    mask[40:160, 30:120] = True  # the garment
    mask[10:13, 10:13] = True  # a speck
    mask[170:190, 5:9] = True  # a crumb of the cut-out, 4 pixels wide
    kept = _main_parts(mask, 3)
    assert kept[45:155, 35:115].all() and kept[40, 30] and kept[159, 119]  # the garment whole, corners included
    assert not kept[10:13, 10:13].any() and not kept[170:190, 5:9].any()
    assert not (kept & ~mask).any()


def test_a_print_shows_the_garments_own_pixels_where_the_crop_is_large(tiny_pipeline_dir, monkeypatch):
    """Lettering the two mirror passes lay 3 pixels apart, under a generator that leaves it to its blurred render
    (composition mask 0): in a crop four times the models' size the letters are the garment's own (no glow of the
    render's blur around them); with the render's share kept as at the models' size they are far from it."""
    import dataclasses

    import tryon.pipeline as tp
    from tryon.data.synthetic import make_text_garment

    pipe = TryOnPipeline.from_pretrained(tiny_pipeline_dir)
    photo, _ = _drawn(pipe, monkeypatch, scale=1.7)
    garment, _ = make_text_garment(np.random.default_rng(0), (1024, 768), "FILA 95")
    framed = pipe.frame(photo, Image.fromarray(garment.image))
    batch = pipe.represent([framed], ["upper"])
    assert batch["prints"][0].sum() > 100
    warp_full, direct = pipe.warp_full, {}

    def aside(*args, mirrored=False, **kwargs):
        warped, mask, scale = warp_full(*args, mirrored=mirrored, **kwargs)
        if not mirrored:
            direct["rgb"] = warped
        return (torch.roll(warped, 3, dims=-1) if mirrored else warped), mask, scale

    def blur(batch, warped, warped_mask):
        rendered = torch.nn.functional.avg_pool2d(warped, 7, 1, 3, count_include_pad=False)
        return GeneratorOutput(rendered, rendered, torch.zeros_like(warped_mask))

    monkeypatch.setattr(pipe, "warp_full", aside)
    monkeypatch.setattr(pipe, "generate", blur)
    result = pipe.render(batch)
    zero = torch.zeros(1, 2, pipe.size[0] // 2, pipe.size[1] // 2)  # the tiny warp has no flow refiners: a zero
    result = dataclasses.replace(result, flow=zero, mirrored=result.mirrored._replace(flow=zero))  # flow lays alike
    size = framing.render_size(framed.box, pipe.size)
    on_print = np.asarray(Image.fromarray(batch["prints"][0, 0].numpy() > 0.5).resize(size[::-1], Image.NEAREST))
    on_print = ndimage.binary_erosion(on_print, iterations=8)
    assert on_print.sum() > 2000

    def off_the_garment():
        image = pipe.compose(batch, result)[0].image.astype(np.float32)
        own = ((direct["rgb"][0].permute(1, 2, 0).numpy() + 1) * 127.5)
        return float(np.abs(image - own).mean(-1)[on_print].mean())

    large = off_the_garment()
    monkeypatch.setattr(tp, "EDGE_BLUR", 0)  # the render's share on a print as near the models' size
    as_at_model_size = off_the_garment()
    assert large < 10.0 and as_at_model_size > 2.5 * large, (large, as_at_model_size)


@pytest.mark.parametrize("category, sharpened", [("upper", True), ("dress", True), ("lower", False)])
def test_tops_and_dresses_get_the_sharp_edge_and_bottoms_keep_the_renders(tiny_pipeline_dir, monkeypatch, category,
                                                                          sharpened):
    """Tops and dresses, laid by the learnt warp, get their own sharp edge in a large crop; bottoms, laid more
    roughly by the pose, keep the render's (a shredded cut-out would show as fragments)."""
    import tryon.pipeline as tp

    pipe = TryOnPipeline.from_pretrained(tiny_pipeline_dir)
    photo, _ = _drawn(pipe, monkeypatch, scale=1.7)
    calls, real = [], tp._sharp_edge
    monkeypatch.setattr(tp, "_sharp_edge", lambda *args: calls.append(1) or real(*args))
    framed = pipe.frame(photo, _garment_photo(_checkerboard(8)), category=category)
    batch = pipe.represent([framed], [category])
    assert framing.render_size(framed.box, pipe.size)[0] >= 1.5 * pipe.size[0]
    pipe.compose(batch, pipe.render(batch, mirror_average=False))
    assert bool(calls) == sharpened


def test_both_mirror_passes_read_the_garment_frame_shrunk_alike(tiny_pipeline_dir, monkeypatch):
    """Each pass's own median scale can round to frames a pixel apart, which shifts a print between the passes and
    ghosts it: the mirrored pass reads the frame shrunk by the direct pass's scale."""
    import tryon.pipeline as tp

    pipe = TryOnPipeline.from_pretrained(tiny_pipeline_dir)
    photo, _ = _drawn(pipe, monkeypatch, scale=1.7)
    batch = pipe.represent([pipe.frame(photo, _garment_photo(_checkerboard(3)))], ["upper"])
    measured, shrunk = iter([1.5, 1.7]), []  # what two grids' medians might give
    shrink_frame = tp.shrink_frame
    monkeypatch.setattr(tp, "grid_scale", lambda *args: next(measured))
    monkeypatch.setattr(tp, "shrink_frame", lambda garment, scale: shrunk.append(scale) or shrink_frame(garment, scale))
    pipe.compose(batch, pipe.render(batch, mirror_average=True))
    assert shrunk == [1.5, 1.5]
