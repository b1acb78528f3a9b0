"""What a shorter bottom or dress uncovers: the street and the legs painted from the photo (tryon.preprocess.uncover,
TryOnPipeline.uncover)."""
import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from conftest import pose_of
from tryon.data.dataset import to_tensor
from tryon.data.labels import J, P
from tryon.models.pose_warp import read_body
from tryon.pipeline import Framed, TryOnPipeline
from tryon.preprocess import uncover
from tryon.preprocess.person import agnostic_mask, paste_region

H, W = 256, 192
SKIN = np.array([205, 160, 135], np.float32)

# a person framed head to feet at the models' size, legs a little apart, arms by the sides
FRAMED = pose_of({"nose": (96, 30), "r_shoulder": (74, 60), "l_shoulder": (118, 60), "r_elbow": (64, 90),
                  "l_elbow": (128, 90), "r_wrist": (60, 115), "l_wrist": (132, 115), "r_hip": (84, 120),
                  "l_hip": (108, 120), "r_knee": (82, 177), "l_knee": (110, 177), "r_ankle": (80, 232),
                  "l_ankle": (112, 232)})


def _street(height: int, width: int, rng=None) -> np.ndarray:
    """[H, W, 3] uint8: bands of colour across the rows, 16 rows each (a wall, a kerb, the ground), with grain."""
    bands = np.array([(120, 90, 80), (70, 70, 75), (160, 150, 140), (90, 110, 60)], np.float32)
    street = np.repeat(bands[(np.arange(height) // (height // 16)) % 4][:, None], width, 1)
    if rng is not None:
        street = street + rng.normal(0, 12, street.shape)
    return np.clip(street, 0, 255).astype(np.uint8)


def test_the_street_runs_on_through_the_hole_row_by_row_with_its_grain():
    rng = np.random.default_rng(0)
    photo = _street(128, 96, rng).astype(np.float32) / 127.5 - 1
    clean = _street(128, 96).astype(np.float32) / 127.5 - 1
    hole = np.zeros((128, 96), bool)
    hole[20:110, 30:70] = True
    filled = uncover.street_fill(np.where(hole[..., None], 0.8, photo), ~hole)
    assert np.array_equal(filled[~hole], photo[~hole])  # what is known stays
    inner = np.zeros_like(hole)
    inner[24:106, 34:66] = True  # away from the band edges' smoothing
    rows = [y for y in range(24, 106) if (y % 8) not in (0, 7)]  # rows not at a band's edge
    err = np.abs(filled[rows][:, 34:66] - clean[rows][:, 34:66]).mean()
    assert err < 0.1  # each band's colour, not the hole's 0.8 nor a neighbour band's
    grain = filled[inner] - ndimage.uniform_filter(filled, (5, 5, 1))[inner]
    assert grain.std() > 0.5 * (12 / 127.5)  # grain, not a flat wash


def test_legs_are_tubes_along_the_pose_narrowing_from_thigh_to_ankle():
    body = read_body(FRAMED)
    coverage, across = uncover.leg_tubes(body, (H, W))
    for row in (150, 177, 215):  # thigh, knee, calf: covered on each leg's axis, not far beside it
        for leg in body.legs:
            x = int(round(np.interp(row, leg[:3, 1], leg[:3, 0])))
            assert coverage[row, x] == 1 and across[row, x] < 0.2
    width = lambda row: (coverage[row, :W // 2] > 0.5).sum()
    assert width(140) > width(177) > width(225) > 2
    assert coverage[120:177, 96].max() < 1  # the legs part below the crotch
    wider, _ = uncover.leg_tubes(body, (H, W), scale=1.4)
    assert (wider > 0.5).sum() > 1.2 * (coverage > 0.5).sum()


def test_the_legs_take_the_colour_of_the_legs_that_show_then_of_the_arms_or_face():
    person = np.zeros((H, W, 3), np.uint8)
    parse = np.zeros((H, W), np.uint8)
    parse[20:45, 85:107], person[20:45, 85:107] = P["face"], SKIN
    parse[200:230, 70:90], person[200:230, 70:90] = P["left_leg"], (25, 25, 30)  # black tights below a skirt
    hidden = np.zeros((H, W), bool)
    assert np.allclose(uncover.leg_colour(person, uncover.skin(parse, hidden)), (25, 25, 30))
    hidden[150:] = True  # the tights lie in the old garment's place: the face gives the colour
    assert np.allclose(uncover.leg_colour(person, uncover.skin(parse, hidden)), SKIN)


def test_the_legs_are_as_wide_as_the_bare_legs_below_the_hole():
    body = read_body(FRAMED)
    parse = np.zeros((H, W), np.uint8)
    hidden = np.zeros((H, W), bool)
    hidden[120:190] = True
    assert uncover.leg_scale(parse, body, hidden) == 1.0  # no legs show
    coverage, _ = uncover.leg_tubes(body, (H, W), scale=1.3)
    parse[coverage > 0.5] = P["left_leg"]
    assert uncover.leg_scale(parse, body, hidden) == pytest.approx(1.3, abs=0.1)


def _long_skirt_scene(scale: int = 2):
    """A person in a long magenta skirt over a banded street, the shorts that replace it, and a render that paints
    their place magenta (as the generator's blur does): (pipeline, framed, parse, old region, garment mask, render,
    the street alone)."""
    size = (H * scale, W * scale)
    parse = np.zeros((H, W), np.uint8)
    parse[15:48, 80:112] = P["face"]
    parse[55:122, 66:126] = P["upper"]
    parse[118:238, 60:132] = P["lower"]  # the long skirt
    parse[238:250, 72:120] = P["shoes"]
    photo = _street(*size)
    big = np.asarray(Image.fromarray(parse).resize(size[::-1], Image.NEAREST))
    photo[big == P["face"]] = SKIN
    photo[big == P["upper"]] = (30, 30, 30)
    photo[big == P["lower"]] = (200, 30, 160)
    framed = Framed(photo=Image.fromarray(photo), box=(0, 0, size[1], size[0]),
                    person=np.asarray(Image.fromarray(photo).resize((W, H), Image.BOX)), pose=FRAMED,
                    person_mask=parse > 0, cloth=np.zeros((H, W, 3), np.uint8), cloth_mask=np.zeros((H, W), bool),
                    full=np.zeros((H, W, 3), np.uint8), full_mask=np.zeros((H, W), bool),
                    prints=np.zeros((H, W), np.float32))
    old = paste_region(parse, agnostic_mask(parse, FRAMED, "lower"), np.zeros((H, W), bool), "lower")
    shorts = np.zeros(size, np.float32)
    shorts[115 * scale:150 * scale, 62 * scale:130 * scale] = 1
    render = torch.tensor([200 / 127.5 - 1, 30 / 127.5 - 1, 160 / 127.5 - 1]).view(1, 3, 1, 1).expand(1, 3, *size)
    pipe = TryOnPipeline.untrained(parser_channels=4, parser_depth=2, warp_channels=16, ngf=4)
    return pipe, framed, parse, old, torch.from_numpy(shorts)[None, None], render.clone(), _street(*size)


def _photo(framed: Framed) -> torch.Tensor:
    """The person crop at the try-on's size, as compose hands it to uncover (the scene's box is the whole photo)."""
    return to_tensor(np.asarray(framed.photo))[None]


def test_shorts_on_a_long_skirt_show_legs_and_the_street_below_them_not_the_render():
    pipe, framed, parse, old, shorts, render, street = _long_skirt_scene()
    out = pipe.uncover(framed, parse, old, shorts, render, _photo(framed))
    level = lambda y, x: (out[0, :, 2 * y, 2 * x].numpy() + 1) * 127.5
    assert torch.equal(out[..., :200, :], render[..., :200, :])  # above the waist: the render
    assert torch.equal(out[..., 240:290, 130:250], render[..., 240:290, 130:250])  # under the shorts: the render
    for y in (177, 215):  # on each leg's axis: the skin of the face, lit, not the skirt's magenta
        for leg in read_body(FRAMED).legs:
            x = int(round(np.interp(y, leg[:3, 1], leg[:3, 0])))
            assert np.abs(level(y, x) - SKIN).max() < 40
    for y in (165, 200, 225):  # in the skirt's place beside the legs: the street's band of that row
        for x in (64, 128):
            assert np.abs(level(y, x) - street[2 * y, 2 * x]).max() < 25, (y, x)
    below = out[0, :, 2 * 160:2 * 236, 2 * 62:2 * 130]
    magenta = torch.tensor([200, 30, 160]).view(3, 1, 1) / 127.5 - 1
    assert ((below - magenta).abs().amax(0) < 0.1).float().mean() < 0.02  # none of the render's skirt is left


def test_nothing_is_uncovered_without_hips_or_where_the_new_garment_covers_the_old_place():
    pipe, framed, parse, old, shorts, render, _ = _long_skirt_scene()
    no_hips = FRAMED.copy()
    no_hips[J["l_hip"], 2] = 0
    framed.pose = no_hips
    assert torch.equal(pipe.uncover(framed, parse, old, shorts, render, _photo(framed)), render)
    framed.pose = FRAMED
    skirt = torch.from_numpy(np.array(Image.fromarray(old).resize((2 * W, 2 * H), Image.NEAREST))).float()
    assert torch.equal(pipe.uncover(framed, parse, old, skirt[None, None], render, _photo(framed)), render)


def test_no_leg_shows_beside_trousers_laid_slimmer_than_it():
    pipe, framed, parse, old, _, render, street = _long_skirt_scene()
    slim = np.zeros((2 * H, 2 * W), np.float32)
    for leg in read_body(FRAMED).legs:  # trousers 6 model pixels wide along each leg's axis, hips to ankles
        for y in range(120, 232):
            x = int(round(np.interp(y, leg[:3, 1], leg[:3, 0])))
            slim[2 * y:2 * y + 2, 2 * (x - 3):2 * (x + 3)] = 1
    out = pipe.uncover(framed, parse, old, torch.from_numpy(slim)[None, None], render, _photo(framed))
    level = lambda y, x: (out[0, :, 2 * y, 2 * x].numpy() + 1) * 127.5
    for y in (165, 200):
        for leg in read_body(FRAMED).legs:
            x = int(round(np.interp(y, leg[:3, 1], leg[:3, 0])))
            for side in (-5, 5):  # inside a bare leg's width, outside the trousers: the street, not skin
                assert np.abs(level(y, x + side) - street[2 * y, 2 * (x + side)]).max() < 25, (y, x + side)


def test_the_legs_lie_in_the_new_garments_shadow_just_below_its_hem():
    pipe, framed, parse, old, shorts, render, _ = _long_skirt_scene()
    out = pipe.uncover(framed, parse, old, shorts, render, _photo(framed))
    leg = read_body(FRAMED).legs[0]
    level = lambda y: float((out[0, :, 2 * y, 2 * int(round(np.interp(y, leg[:3, 1], leg[:3, 0])))] + 1).mean())
    assert level(151) < 0.85 * level(200)  # a pixel below the shorts' hem (row 150): about 0.75 of the light
    assert level(170) == pytest.approx(level(200), rel=0.03)  # a third of a thigh below: as lit as further down
    shadow = uncover.hem_shadow(np.arange(100)[:, None].repeat(4, 1) < 10, thigh=50.0)  # a hem at row 9
    darkest = 1 - uncover.HEM_SHADOW * np.exp(-1 / (uncover.HEM_SHADOW_LENGTH * 50))  # a pixel below it
    assert shadow[10, 0] == pytest.approx(darkest) and shadow[11, 0] > darkest and shadow[60, 0] > 0.99


def test_the_legs_carry_the_grain_of_the_skin_the_photo_shows():
    pipe, framed, parse, old, shorts, render, _ = _long_skirt_scene()
    photo = np.asarray(framed.photo).astype(np.float32)
    face = np.asarray(Image.fromarray(parse).resize(framed.photo.size, Image.NEAREST)) == P["face"]
    photo[face] += np.random.default_rng(1).normal(0, 8, (face.sum(), 1))  # grainy skin, 8 levels
    framed.photo = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))
    skin = uncover.skin(parse, np.zeros((H, W), bool))
    grain = uncover.skin_grain(_photo(framed)[0].permute(1, 2, 0).numpy(), skin)
    assert grain * 127.5 == pytest.approx(8 * (8 / 9) ** 0.5, rel=0.2)  # less what a 3x3 mean keeps
    out = pipe.uncover(framed, parse, old, shorts, render, _photo(framed))
    leg = read_body(FRAMED).legs[0]
    x = 2 * int(round(np.interp(200, leg[:3, 1], leg[:3, 0])))
    patch = (out[0, 0, 2 * 190:2 * 210, x - 3:x + 4].numpy() + 1) * 127.5  # down the leg's middle
    assert 4 < patch.std() < 14
    smooth = pipe.uncover(*_long_skirt_scene()[1:6], _photo(_long_skirt_scene()[1]))
    assert ((smooth[0, 0, 2 * 190:2 * 210, x - 3:x + 4].numpy() + 1) * 127.5).std() < 2  # flat skin, flat legs
