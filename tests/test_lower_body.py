"""Lower-body garments and dresses: the paired data made from CCP photos, the agnostic masks of the categories, the
full-body models the pipeline routes them to, training on lower-body and dress samples, and the pose layout of
trousers, shorts and skirts (tryon.models.pose_warp) in the pipeline."""
import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from conftest import pose_of
from tryon.data import ccp_pairs
from tryon.data.dataset import TryOnDataset
from tryon.data.labels import CCP_TAGS, LEGS_ANY, NUM_JOINTS, NUM_PARSE, PARSE_LUTS, SKIN_ANY, J, P
from tryon.data.layouts import read_dataset
from tryon.errors import TryOnError
from tryon.models.pose_warp import garment_shape, pose_grid
from tryon.models.warp import warp
from tryon.pipeline import TryOnPipeline
from tryon.preprocess.person import PERSON_REPR_CHANNELS, agnostic_mask, paste_region, pose_region

TAG = {name: i for i, name in enumerate(CCP_TAGS)}
TINY = dict(parser_channels=4, parser_depth=2, warp_channels=16, ngf=4)


# a person standing in a 240x160 photo, facing the camera (their right on the image's left)
STANDING = pose_of({"nose": (80, 52), "neck": (80, 70), "r_shoulder": (58, 70), "l_shoulder": (102, 70),
                    "r_elbow": (50, 100), "l_elbow": (110, 100), "r_wrist": (46, 125), "l_wrist": (114, 125),
                    "r_hip": (68, 130), "l_hip": (92, 130), "r_knee": (68, 175), "l_knee": (92, 175),
                    "r_ankle": (68, 220), "l_ankle": (92, 220)})


def _ccp_labels(bottom: str = "jeans") -> np.ndarray:
    """A CCP label map of the standing person: hair, a face, a t-shirt, `bottom` over the legs, tights, boots."""
    tags = np.full((240, 160), TAG["background"], np.uint8)
    tags[22:45, 62:98] = TAG["hair"]
    tags[45:66, 68:92] = TAG["skin"]
    tags[66:130, 52:108] = TAG["t-shirt"]
    tags[96:128, 40:52] = TAG["skin"]  # the right forearm, bare
    tags[130:200, 56:104] = TAG[bottom]
    tags[200:222, 60:100] = TAG["tights"]
    tags[222:235, 60:100] = TAG["boots"]
    return tags


@pytest.fixture()
def fake_ccp(tmp_path):
    """A CCP folder of four photos of the standing person in jeans (0001, 0002 train; 0009, 0018 val), and one of
    nobody's trousers (0003: only a t-shirt)."""
    root = tmp_path / "ccp"
    (root / "photos").mkdir(parents=True)
    (root / "labels").mkdir()
    for name in ("0001", "0002", "0003", "0009", "0018"):
        tags = _ccp_labels()
        if name == "0003":
            tags[tags == TAG["jeans"]] = TAG["background"]
        colours = np.full((len(CCP_TAGS), 3), 30, np.uint8)
        colours[TAG["jeans"]] = (40, 60, 170)
        colours[TAG["t-shirt"]] = (220, 60, 60)
        colours[TAG["skin"]] = (230, 190, 160)
        Image.fromarray(colours[tags]).save(root / "photos" / f"{name}.jpg", quality=95)
        Image.fromarray(tags).save(root / "labels" / f"{name}.png")
    return root


@pytest.fixture()
def standing_pose(monkeypatch):
    """mediapipe replaced by the standing person's pose (the fake CCP photos show no real person)."""
    class Detector:
        def detect(self, image):
            return STANDING.copy(), np.ones(image.size[::-1], np.float32)

    monkeypatch.setattr(ccp_pairs, "PoseDetector", Detector)


def test_ccp_skin_is_split_along_the_pose():
    labels = np.full((240, 160), SKIN_ANY, np.uint8)
    labels[200:, :] = LEGS_ANY
    out = ccp_pairs.split_skin(labels, STANDING)
    assert out.max() < NUM_PARSE  # no partial label is left
    assert out[50, 80] == P["face"] and out[75, 80] == P["neck"]
    assert out[118, 46] == P["right_arm"] and out[118, 114] == P["left_arm"]
    assert out[160, 66] == P["right_leg"] and out[160, 94] == P["left_leg"]
    assert out[215, 60] == P["right_leg"] and out[215, 100] == P["left_leg"]  # tights: one leg or the other


def test_the_worn_category_is_the_larger_garment_and_a_dress_under_a_coat_is_left_out():
    labels = np.zeros((100, 100), np.uint8)
    labels[40:90, 30:70] = P["lower"]
    assert ccp_pairs.worn_category(labels) == "lower"
    labels[10:95, 25:75] = P["dress"]
    assert ccp_pairs.worn_category(labels) == "dress"
    labels[10:60, 20:80] = P["upper"]  # a coat over most of the dress
    assert ccp_pairs.worn_category(labels) is None
    assert ccp_pairs.worn_category(np.zeros((100, 100), np.uint8)) is None


def test_ccp_pairs_are_written_in_the_dresscode_layout_and_read_back(fake_ccp, standing_pose, tmp_path):
    out = tmp_path / "pairs"
    counts = ccp_pairs.write_ccp_pairs(fake_ccp, out)
    assert counts == {"lower": {"train": 2, "test": 2}, "dress": {"train": 0, "test": 0}}
    assert "0003" in (out / "skipped.txt").read_text()
    train, test = read_dataset(out, "train"), read_dataset(out, "test")
    assert [p.person.stem for p in train] == ["0001_0", "0002_0"] and [p.person.stem for p in test] == ["0009_0", "0018_0"]
    assert all(p.category == "lower" and p.paired and p.cloth_mask is not None for p in train)
    unpaired = read_dataset(out, "test", "unpaired")
    assert [p.cloth.stem for p in unpaired] == ["0018_1", "0009_1"]

    sample = TryOnDataset(out, "train", height=256, width=192)[0]
    parse = sample["parse"].numpy()
    assert parse.max() < NUM_PARSE and (parse == P["lower"]).mean() > 0.05
    assert ((parse == P["left_leg"]) | (parse == P["right_leg"])).any()  # the tights, split into legs
    # framed head to feet: the boots are in the crop, the garment is the jeans' colour on white
    assert (parse == P["shoes"]).any()
    cloth, mask = sample["cloth"].numpy(), sample["cloth_mask"][0].numpy() > 0.5
    assert mask.mean() > 0.1
    inside = (cloth[:, mask] + 1) * 127.5
    assert np.allclose(np.median(inside, 1), (40, 60, 170), atol=25)
    off = ~ndimage.binary_dilation(mask, iterations=3)  # past the edge that JPEG and resizing blur
    assert np.allclose(cloth[:, off], 1.0, atol=0.05)
    pose = json.loads((out / "lower_body" / "keypoints" / "0001_2.json").read_text())["keypoints"]
    assert len(pose) == NUM_JOINTS and pose[J["l_ankle"]][2] > 0
    with pytest.raises(TryOnError, match="not empty"):
        ccp_pairs.write_ccp_pairs(fake_ccp, out)


def test_ccp_tops_pairs_are_framed_head_to_hips_beside_the_lower_body_ones(fake_ccp, standing_pose, tmp_path):
    """With "upper" among the categories each photo's top becomes a sample too (0003, a t-shirt alone, included),
    framed as the pipeline frames a top; the lower-body samples are the same as without it."""
    out = tmp_path / "pairs"
    counts = ccp_pairs.write_ccp_pairs(fake_ccp, out, categories=("upper", "lower"))
    assert counts == {"upper": {"train": 3, "test": 2}, "lower": {"train": 2, "test": 2}}
    assert (out / "skipped.txt").read_text() == ""
    train = read_dataset(out, "train")
    assert [(p.category, p.person.stem) for p in train] == [("upper", "0001_0"), ("upper", "0002_0"),
                                                            ("upper", "0003_0"), ("lower", "0001_0"),
                                                            ("lower", "0002_0")]
    sample = TryOnDataset(out, "train", height=256, width=192)[0]
    parse = sample["parse"].numpy()
    assert (parse == P["upper"]).mean() > 0.1
    assert not (parse == P["shoes"]).any()  # head to hips: no feet in the crop
    cloth, mask = sample["cloth"].numpy(), sample["cloth_mask"][0].numpy() > 0.5
    assert np.allclose(np.median((cloth[:, mask] + 1) * 127.5, 1), (220, 60, 60), atol=25)  # the t-shirt's colour
    with pytest.raises(TryOnError, match="categories must be"):
        ccp_pairs.write_ccp_pairs(fake_ccp, tmp_path / "other", categories=("tops",))


def test_the_garment_is_bent_out_of_its_pose_but_keeps_its_size():
    rng = np.random.default_rng(0)
    rgb = np.full((200, 150, 3), 30, np.uint8)
    mask = np.zeros((200, 150), bool)
    mask[40:180, 40:110] = True
    rgb[mask] = (200, 50, 50)
    image, moved = ccp_pairs.unpose(rgb, mask, rng)
    assert 0.75 < moved.sum() / mask.sum() < 1.35
    pixels = np.asarray(image)
    assert (pixels[~moved] == 255).all() and np.allclose(np.median(pixels[moved], 0), (200, 50, 50), atol=3)
    # not merely cropped: the mask's outline moved
    ys, xs = np.nonzero(moved)
    assert not np.array_equal(moved[ys.min():ys.max() + 1, xs.min():xs.max() + 1], mask[40:180, 40:110])


@pytest.mark.parametrize("category", ["lower", "dress"])
def test_agnostic_masks_of_the_lower_body_and_the_dress(category):
    parse = ccp_pairs.split_skin(PARSE_LUTS["ccp"][_ccp_labels()], STANDING)
    mask = agnostic_mask(parse, STANDING, category)
    legs = (parse == P["lower"]) | (parse == P["left_leg"]) | (parse == P["right_leg"])
    assert mask[legs].all()  # hips to ankles, garment and skin
    assert not mask[parse == P["face"]].any() and not mask[parse == P["hair"]].any()
    assert not mask[parse == P["shoes"]].any()
    top = parse == P["upper"]
    if category == "lower":
        assert not mask[top].any() and not mask[parse == P["right_arm"]].any()  # the upper body stays as it is
    else:
        assert mask[top].all() and mask[parse == P["right_arm"]].all()


@pytest.mark.parametrize("category", ["lower", "dress"])
def test_a_bag_held_in_front_of_the_legs_stays_in_front_of_the_new_garment(category):
    parse = ccp_pairs.split_skin(PARSE_LUTS["ccp"][_ccp_labels()], STANDING)
    bag = np.zeros_like(parse, bool)
    bag[150:185, 60:90] = True  # over the thighs
    parse[bag] = P["accessory"]
    mask = agnostic_mask(parse, STANDING, category)
    laid = np.zeros_like(bag)
    laid[120:230, 50:110] = True  # the new garment, laid under the bag
    pasted = paste_region(parse, mask, laid, category)
    assert not mask[bag].any() and not pasted[bag].any()
    legs = (parse == P["lower"]) | (parse == P["left_leg"]) | (parse == P["right_leg"])
    assert mask[legs].all() and pasted[legs & laid].all()  # the rest of the legs is repainted


def test_a_lower_body_garment_replaces_the_skirt_of_a_dress_and_keeps_its_top():
    """A long skirt the parser reads as a dress: a lower-body try-on repaints and pastes it below the waist."""
    parse = ccp_pairs.split_skin(PARSE_LUTS["ccp"][_ccp_labels()], STANDING)
    parse[(parse == P["upper"]) | (parse == P["lower"])] = P["dress"]
    mask = agnostic_mask(parse, STANDING, "lower")
    waist = 130 - 0.25 * 45  # a quarter of a thigh above the hips
    dress = parse == P["dress"]
    assert mask[dress & (np.arange(240)[:, None] >= waist)].all()
    assert not mask[dress & (np.arange(240)[:, None] < waist - 4)].any()  # the top stays (past the dilation)
    pasted = paste_region(parse, mask, np.zeros_like(mask), "lower")
    assert pasted[dress & (np.arange(240)[:, None] >= waist)].all() and not pasted[:110].any()
    no_hips = STANDING.copy()
    no_hips[J["r_hip"], 2] = 0  # no waist to cut at: the dress stays, but for the legs the pose still draws
    assert mask[140:200, 56:59].all() and not agnostic_mask(parse, no_hips, "lower")[140:200, 56:59].any()


def test_a_top_replaces_the_bodice_of_a_dress_and_keeps_its_skirt():
    """A top on a person in a dress: the bodice goes, the skirt stays (as a skirt under a top would); without the
    hips no waist is found and the whole dress goes, as before."""
    parse = ccp_pairs.split_skin(PARSE_LUTS["ccp"][_ccp_labels()], STANDING)
    parse[(parse == P["upper"]) | (parse == P["lower"])] = P["dress"]
    waist = 130 - 0.25 * 45
    rows = np.arange(240)[:, None]
    dress = parse == P["dress"]
    mask = agnostic_mask(parse, STANDING, "upper")
    assert mask[dress & (rows < waist)].all() and not mask[dress & (rows >= waist)].any()
    pasted = paste_region(parse, mask, np.zeros_like(mask), "upper")
    assert not pasted[dress & (rows >= waist)].any()
    no_hips = STANDING.copy()
    no_hips[J["r_hip"], 2] = 0
    assert agnostic_mask(parse, no_hips, "upper")[dress].all()
    assert agnostic_mask(parse, STANDING, "dress")[dress].all()  # a dress for a dress: all of it


def _pipeline_with_fullbody(tmp_path):
    base = TryOnPipeline.untrained(**TINY, seed=0)
    other = TryOnPipeline.untrained(**TINY, seed=1)
    TryOnPipeline(parser=base.parser, warp=base.warp, generator=base.generator, fullbody_parser=other.parser,
                  fullbody_warp=other.warp, fullbody_generator=other.generator).save_pretrained(tmp_path / "p")
    return TryOnPipeline.from_pretrained(tmp_path / "p"), base


def test_lower_and_dress_go_through_the_fullbody_models_even_in_a_mixed_batch(tmp_path, synthetic_person):
    pipe, tops_only = _pipeline_with_fullbody(tmp_path)
    assert pipe.models_for("upper") == (pipe.warp, pipe.generator)
    assert pipe.models_for("lower") == pipe.models_for("dress") == (pipe.fullbody_warp, pipe.fullbody_generator)
    assert tops_only.models_for("lower") == (tops_only.warp, tops_only.generator)
    assert pipe.parser_for("upper") is pipe.parser and pipe.parser_for("dress") is pipe.fullbody_parser
    assert tops_only.parser_for("lower") is tops_only.parser
    person, garment = synthetic_person(3, (512, 384))
    categories = ["lower", "upper", "dress"]
    framed = [pipe.frame(person, garment, category=c) for c in categories]
    batch = pipe.represent(framed, categories)
    from tryon.preprocess.parse import keep_on_body, parse_photos, skin_by_pose

    for i, category in enumerate(categories):  # each crop parsed by its category's parser (skin by the pose: full body)
        raw = parse_photos(pipe.parser_for(category), [framed[i].photo], [framed[i].box], *pipe.size)[0]
        own = keep_on_body(raw, framed[i].person_mask, framed[i].pose)
        own = own if category == "upper" else skin_by_pose(own, framed[i].pose)
        assert np.array_equal(batch["parse"][i].numpy(), own)
        assert np.array_equal(own, pipe.parse([framed[i]], category)[0])
    assert not np.array_equal(pipe.parse(framed[:1], "upper"), pipe.parse(framed[:1], "lower"))
    mixed = pipe.render(batch)
    for i, category in enumerate(categories):
        alone = pipe.render(pipe.represent([framed[i]], [category]))
        assert torch.allclose(mixed.image[i], alone.image[0], atol=1e-5), category
        assert torch.allclose(mixed.control_points[i], alone.control_points[0], atol=1e-5), category
    tops = tops_only.render(tops_only.represent([framed[0]], ["lower"]))
    assert not torch.allclose(tops.image[0], mixed.image[0], atol=1e-3)  # the full-body pair's own render
    images = pipe([person, person], [garment, garment], category=["lower", "upper"]).images
    assert images[0].size == images[1].size == person.size


def test_the_fullbody_models_come_as_a_pair():
    base = TryOnPipeline.untrained(**TINY)
    with pytest.raises(TryOnError, match="pair"):
        TryOnPipeline(parser=base.parser, warp=base.warp, generator=base.generator, fullbody_warp=base.warp)


@pytest.mark.parametrize("stage", ["warp", "generator"])
def test_training_on_lower_body_and_dress_samples_lowers_the_loss(tmp_path, stage):
    from tryon.data.synthetic import make_synthetic_dataset
    from tryon.models import GeometricMatcher
    from tryon.models.chain import batch_repr, warp_garment
    from tryon.preprocess.person import CLOTH_CHANNELS, PERSON_REPR_CHANNELS
    from tryon.training.config import TrainConfig
    from tryon.training.stages import WarpStage
    from tryon.training.trainer import Trainer

    data = make_synthetic_dataset(tmp_path / "dc", "dresscode", n_train=4, n_test=1, seed=2)
    warp_dir = tmp_path / "identity_warp"
    GeometricMatcher(person_channels=PERSON_REPR_CHANNELS, cloth_channels=CLOTH_CHANNELS).save_pretrained(warp_dir)
    cfg = TrainConfig(stage=stage, data=str(data), output_dir=str(tmp_path / stage), steps=25, lr=2e-3,
                      batch_size=4, num_workers=0, val_samples=2, ngf=8, ndf=8, num_d=1, augment=False,
                      ema_decay=0.0, checkpoint_every=100, sample_every=1000,
                      warp_model=str(warp_dir) if stage == "generator" else None,
                      pose_layout="lower,dress" if stage == "generator" else "")
    trainer = Trainer(cfg)
    # the samples of the lower-body and dress folders
    batch = torch.utils.data.default_collate([trainer.dataset[i] for i in range(len(trainer.dataset))
                                              if trainer.dataset.pairs[i].category != "upper"])
    assert set(batch["category"]) == {"lower", "dress"}

    def loss():
        with torch.no_grad():
            if stage == "warp":
                warped, *_ = warp_garment(trainer.acc.unwrap_model(trainer.stage.model), batch, batch_repr(batch))
                target, _ = WarpStage.targets(batch)
                return (warped - target).abs().mean().item()
            x, warped, _ = trainer.stage._inputs(batch)
            return (trainer.acc.unwrap_model(trainer.stage.G)(x, warped).image - batch["person"]).abs().mean().item()

    before = loss()
    trainer.train()
    assert loss() < 0.8 * before


def test_legs_the_parser_takes_for_arms_or_a_face_are_legs_by_the_pose_and_a_lower_body_garment_repaints_them():
    from tryon.preprocess.parse import skin_by_pose

    labels = np.full((240, 160), P["background"], np.uint8)
    labels[70:125, 44:54] = P["right_arm"]  # the right arm, where the pose draws it
    labels[130:220, 64:73] = P["left_arm"]  # the right leg, taken for the left arm (legs crossed)
    labels[130:220, 88:97] = P["left_leg"]
    labels[190:215, 88:97] = P["face"]  # and part of the left leg for the face
    labels[42:62, 72:88] = P["face"]
    labels[80:110, 70:90] = P["upper"]
    fixed = skin_by_pose(labels, STANDING)
    assert (fixed[130:220, 64:73] == P["right_leg"]).all() and (fixed[130:220, 88:97] == P["left_leg"]).all()
    assert (fixed[70:125, 44:54] == P["right_arm"]).all() and (fixed[80:110, 70:90] == P["upper"]).all()
    assert (fixed[42:62, 72:88] == P["face"]).all()
    hand_on_thigh = STANDING.copy()
    hand_on_thigh[J["l_elbow"], :2], hand_on_thigh[J["l_wrist"], :2] = (106, 100), (100, 128)
    hand = np.full((240, 160), P["background"], np.uint8)
    hand[136:143, 97:101] = P["left_leg"]  # past the wrist, over the thigh: the hand, not the leg
    assert (skin_by_pose(hand, hand_on_thigh)[136:143, 97:101] == P["left_arm"]).all()
    before, after = (agnostic_mask(x, STANDING, "lower") for x in (labels, fixed))
    assert not before[150:200, 64:73].any() and after[150:200, 64:73].all()  # the new trousers reach that leg now
    no_legs = STANDING.copy()
    no_legs[[J["r_hip"], J["l_hip"], J["r_knee"], J["l_knee"], J["r_ankle"], J["l_ankle"]], 2] = 0
    kept = skin_by_pose(labels, no_legs)  # no legs drawn: a leg stays a leg, an arm the nearest arm
    assert (kept[130:190, 88:97] == P["left_leg"]).all() and (kept[130:220, 64:73] == P["right_arm"]).all()
    assert np.array_equal(skin_by_pose(labels, np.zeros_like(STANDING)), labels)  # no pose, no change


def test_the_lower_body_checks_see_covered_legs_a_left_old_garment_and_a_changed_top():
    from tryon.evaluation import lower_body_checks
    from tryon.preprocess.person import pose_region

    legs = pose_region(STANDING, "lower", 240, 160)
    truth = ccp_pairs.split_skin(PARSE_LUTS["ccp"][_ccp_labels("pants")], STANDING)
    none = np.zeros((240, 160), bool)
    full = lower_body_checks(STANDING, legs.copy(), np.ones((240, 160)), "lower", truth, none)
    assert full["hips_to_knees"] == full["knees_to_ankles"] == 1.0
    assert full["old_left"] == 0.0 and full["upper_changed"] == 0.0 and not full["full_length"]  # the pants end at 200
    assert full["worn_hips_to_knees"] > 0.9  # the worn pants cover the band themselves
    shorts = legs & (np.arange(240)[:, None] < 150)
    checks = lower_body_checks(STANDING, shorts, shorts.astype(np.float32), "lower", truth, truth == P["upper"])
    assert 0.3 < checks["hips_to_knees"] < 0.6 and checks["knees_to_ankles"] == 0.0
    assert checks["old_left"] > 0.4 and checks["upper_changed"] > 0.5
    # a garment laid on the legs but not pasted there (the parse kept the legs) does not count
    hidden = lower_body_checks(STANDING, legs.copy(), np.zeros((240, 160)), "lower", truth, none)
    assert hidden["hips_to_knees"] == hidden["knees_to_ankles"] == 0.0 and hidden["old_left"] == 1.0
    assert set(lower_body_checks(STANDING, none, np.zeros((240, 160)), "dress")) == {"hips_to_knees", "knees_to_ankles"}
    # boots the try-on keeps over the lower shins: the legs above them are the band, with them it is short
    ankle = STANDING[[J["r_ankle"], J["l_ankle"]], 1].mean()
    boots = legs & (np.arange(240)[:, None] > ankle - 12)
    trousers = legs & ~boots
    short = lower_body_checks(STANDING, trousers, np.ones((240, 160)), "lower")["knees_to_ankles"]
    over_boots = lower_body_checks(STANDING, trousers, np.ones((240, 160)), "lower", kept=boots)
    assert short < 0.9 and over_boots["knees_to_ankles"] == 1.0
    # slim legs: the drawn legs are a thigh wide down to the ankles; the street beside the person is not a leg
    slim = np.zeros((240, 160), bool)
    for joint in ("r_", "l_"):
        x = int(STANDING[J[joint + "ankle"], 0])
        slim[:, x - 3:x + 4] = True
    slim &= legs
    assert lower_body_checks(STANDING, slim, np.ones((240, 160)), "lower")["knees_to_ankles"] < 0.9
    assert lower_body_checks(STANDING, slim, np.ones((240, 160)), "lower", person=slim)["knees_to_ankles"] == 1.0
    # cropped trousers, worn to 8 rows above the ankles: in paired data their try-on is asked to reach their hem
    cropped = np.where(legs & (np.arange(240)[:, None] < ankle - 8), P["lower"], P["background"]).astype(np.uint8)
    laid = legs & (np.arange(240)[:, None] < ankle - 8)
    paired = lower_body_checks(STANDING, laid, np.ones((240, 160)), "lower", cropped, none)
    assert paired["full_length"] and paired["knees_to_ankles"] == 1.0
    assert lower_body_checks(STANDING, laid, np.ones((240, 160)), "lower")["knees_to_ankles"] < 0.9  # unpaired


def test_knee_coverage_is_also_scored_over_the_pairs_whose_worn_garment_covers_the_knees():
    from tryon.evaluation import _category_summary

    cases = [{"category": "dress", "hips_to_knees": 1.0, "worn_hips_to_knees": 1.0},
             {"category": "dress", "hips_to_knees": 0.5, "worn_hips_to_knees": 0.95},
             {"category": "dress", "hips_to_knees": 0.4, "worn_hips_to_knees": 0.4}]  # a short dress
    summary = _category_summary(cases, paired=False)["dress"]
    assert summary["covers_hips_to_knees"] == pytest.approx(1 / 3)
    assert summary["covers_hips_to_knees_knee_length"] == 0.5 and summary["knee_length_n"] == 2


def test_evaluate_reports_each_category_with_the_leg_coverage(tiny_pipeline, tmp_path):
    from tryon.data.synthetic import make_synthetic_dataset
    from tryon.evaluation import evaluate

    data = make_synthetic_dataset(tmp_path / "dc", "dresscode", n_train=1, n_test=2, height=512, width=384, seed=5)
    metrics = evaluate(tiny_pipeline, data, tmp_path / "eval")
    by = metrics["by_category"]
    cases = json.loads((tmp_path / "eval" / "metrics.json").read_text())["cases"]
    scored = {c["category"] for c in cases}
    assert set(by) == scored and scored & {"lower", "dress"}
    assert all(by[c]["n"] == sum(case["category"] == c for case in cases) and "psnr_garment" in by[c] for c in scored)
    for case in cases:  # the legs are checked wherever the pose shows the knees, for lower and dress only
        assert ("old_left" in case) == (case["category"] != "upper")
        if "hips_to_knees" in case:
            assert 0 <= by[case["category"]]["covers_hips_to_knees"] <= 1
    assert "| category |" in (tmp_path / "eval" / "report.md").read_text()


def test_a_pipeline_folder_gives_its_fullbody_models_to_from_models(tmp_path):
    pipe, _ = _pipeline_with_fullbody(tmp_path)
    folder = tmp_path / "p"
    again = TryOnPipeline.from_models(folder, folder, folder, fullbody_parser=folder, fullbody_warp=folder,
                                      fullbody_generator=folder)
    for name in ("fullbody_parser", "fullbody_warp", "fullbody_generator"):
        own, read = getattr(pipe, name).state_dict(), getattr(again, name).state_dict()
        assert all(torch.equal(own[k], read[k]) for k in own), name
    first = lambda model: next(iter(model.state_dict().values()))
    assert not torch.equal(first(again.fullbody_generator), first(again.generator))  # not the tops' models


def test_growing_the_agnostic_region_reaches_the_surroundings_of_bottoms_and_dresses_only(tmp_path):
    from tryon.data.dataset import Augment
    from tryon.data.labels import KEEP_LABELS
    from tryon.data.synthetic import make_synthetic_dataset

    data = make_synthetic_dataset(tmp_path / "dc", "dresscode", n_train=4, n_test=1, seed=2)
    plain = TryOnDataset(data, "train", augment=Augment(flip=0.0, jitter=0.0))
    grown = TryOnDataset(data, "train", augment=Augment(flip=0.0, jitter=0.0, grow_agnostic=0.1))
    larger = 0
    for epoch in range(3):
        for i, pair in enumerate(plain.pairs):
            a, b = plain[i, epoch], grown[i, epoch]
            before, after = a["agnostic_mask"][0] > 0.5, b["agnostic_mask"][0] > 0.5
            assert (after | ~before).all()  # it only grows
            if pair.category == "upper":
                assert torch.equal(before, after)
                continue
            assert not (after & ~before)[torch.from_numpy(np.isin(b["parse"].numpy(), KEEP_LABELS[pair.category]))].any()
            larger += int(after.sum() > before.sum())
            assert torch.equal(b["agnostic"][:, ~after], b["person"][:, ~after])  # grey only where it repaints
    assert larger >= 3



@pytest.mark.parametrize("category", ["lower", "dress"])
def test_a_longer_old_garment_is_made_up_over_bare_legs_below_the_hem_only(category):
    from tryon.data.dataset import longer_garment
    from tryon.data.labels import KEEP_LABELS

    tags = _ccp_labels("skirt")
    if category == "dress":
        tags[66:150, 52:108] = TAG["dress"]
    tags[150:200] = TAG["background"]
    tags[150:222, 60:100] = TAG["skin"]  # a short skirt or dress (its hem at row 149) over bare legs
    parse = ccp_pairs.split_skin(PARSE_LUTS["ccp"][tags], STANDING)
    legs = np.isin(parse, (P["left_leg"], P["right_leg"]))
    regions = [longer_garment(parse, STANDING, np.random.default_rng(seed), category) for seed in range(8)]
    for region in regions:
        assert region is not None
        assert not region[:147].any()  # the garment keeps its own edges, its hem overlapped by 2 pixels at most
        assert not region[np.isin(parse, KEEP_LABELS[category])].any()  # shoes (for a bottom the top, arms) stay
        assert region[150:185][legs[150:185]].mean() > 0.85  # down to halfway between the hem and the ankles at least
        assert region[150:185][~legs[150:185]].any() or region[150:185].sum() > legs[150:185].sum()  # street too
    assert len({r.tobytes() for r in regions}) > 4  # skirts and trouser legs of random lengths and widths
    if category == "lower":
        jeans = ccp_pairs.split_skin(PARSE_LUTS["ccp"][_ccp_labels()], STANDING)
        assert longer_garment(jeans, STANDING, np.random.default_rng(0)) is None  # no bare legs to hide


def test_the_lengthen_augmentation_repaints_bare_legs_under_bottoms_and_dresses_only(tmp_path):
    from tryon.data.dataset import Augment
    from tryon.data.synthetic import make_synthetic_dataset

    data = make_synthetic_dataset(tmp_path / "dc", "dresscode", n_train=6, n_test=1, seed=2)
    plain = TryOnDataset(data, "train", augment=Augment(flip=0.0, jitter=0.0))
    longer = TryOnDataset(data, "train", augment=Augment(flip=0.0, jitter=0.0, lengthen=1.0))
    larger = 0
    for i, pair in enumerate(plain.pairs):
        a, b = plain[i], longer[i]
        before, after = a["agnostic_mask"][0] > 0.5, b["agnostic_mask"][0] > 0.5
        assert (after | ~before).all()
        if pair.category == "upper":
            assert torch.equal(before, after)
        larger += int(after.sum() > before.sum())
        assert torch.equal(b["agnostic"][:, ~after], b["person"][:, ~after])  # grey only where it repaints
    assert larger >= 1  # the synthetic shorts and skirts that show bare legs


# the pose layout of trousers, shorts and skirts (tryon.models.pose_warp) -------------------------------------------
H, W = 256, 192
# a person framed head to feet at the models' size (adult proportions), legs a little apart
FRAMED = pose_of({"r_shoulder": (74, 60), "l_shoulder": (118, 60), "r_hip": (84, 120), "l_hip": (108, 120),
                    "r_knee": (82, 177), "l_knee": (110, 177), "r_ankle": (80, 232), "l_ankle": (112, 232)})


def _trousers(leg_end: int = 235, spread: int = 22) -> np.ndarray:
    """A flat pair of trousers as a product photo shows them: a waistband 72 pixels wide from row 30, legs parting
    at row 95 and spreading `spread` pixels outwards down to row `leg_end`."""
    canvas = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([60, 30, 132, 95], fill=255)
    draw.polygon([(60, 95), (95, 95), (95 - spread + 8, leg_end), (60 - spread, leg_end)], fill=255)
    draw.polygon([(97, 95), (132, 95), (132 + spread, leg_end), (97 + spread - 8, leg_end)], fill=255)
    return np.asarray(canvas) > 0


def _skirt() -> np.ndarray:
    canvas = Image.new("L", (W, H), 0)
    ImageDraw.Draw(canvas).polygon([(66, 40), (126, 40), (150, 200), (42, 200)], fill=255)
    return np.asarray(canvas) > 0


def _dress() -> np.ndarray:
    """A sleeveless dress: 60 pixels wide at the straps (row 20), 46 at the waist (row 80), flaring to 130 at the
    hem (row 235)."""
    canvas = Image.new("L", (W, H), 0)
    ImageDraw.Draw(canvas).polygon([(66, 20), (126, 20), (119, 80), (161, 235), (31, 235), (73, 80)], fill=255)
    return np.asarray(canvas) > 0


def _laid(mask: np.ndarray, pose: np.ndarray = FRAMED, category: str = "lower") -> np.ndarray:
    grid = pose_grid(pose, mask, category)
    assert grid is not None
    return warp(torch.from_numpy(mask)[None, None].float(), grid[None], fill=0.0)[0, 0].numpy() > 0.5


def _covered(laid: np.ndarray, top: float, bottom: float) -> float:
    """The share of the pose-drawn legs between rows top and bottom that the laid garment covers."""
    rows = np.arange(H)[:, None]
    band = pose_region(FRAMED, "lower", H, W) & (rows >= top) & (rows <= bottom)
    return (laid & band).sum() / band.sum()


def test_the_garment_shape_finds_two_legs_or_a_skirt():
    trousers = garment_shape(_trousers())
    assert trousers.legs is not None and abs(trousers.crotch - 95) <= 3
    assert trousers.waist == 30 and abs(trousers.waist_width - 73) <= 1
    (rows, a, b), (rows_r, a_r, _) = trousers.legs
    assert a[-1] < a[0] and a_r[-1] > a_r[0]  # the left leg spreads left, the right one right
    assert rows[-1] >= 230
    assert garment_shape(_skirt()).legs is None
    flap = _skirt()
    flap[166:172, 136:139] = False  # a slit by the side seam 30 rows above the hem: a flap, no leg
    assert garment_shape(flap).legs is None
    assert garment_shape(_trousers(), legs=False).legs is None  # a dress's slit is no pair of legs
    assert garment_shape(np.zeros((H, W), bool)) is None


def test_full_length_trousers_cover_the_legs_to_the_ankles_and_nothing_above_the_waist():
    laid = _laid(_trousers())
    assert _covered(laid, 120, 177) >= 0.95
    assert _covered(laid, 177, 232) >= 0.95
    assert not laid[:100].any()  # the waist sits a quarter of a thigh above the hips (row 120), not higher
    assert not laid[200, 94:98].any()  # the legs stay apart
    assert laid[200, 81] and laid[200, 111]


def test_a_leg_photographed_shorter_than_the_other_still_reaches_the_ankle():
    trousers = _trousers()
    trousers[215:, 96:] = False  # the image-right leg's hem folded under, 20 pixels shorter
    laid = _laid(trousers)
    right_shin = pose_region(FRAMED, "lower", H, W) & (np.arange(W) > 96) & (np.arange(H)[:, None] >= 205)
    right_shin &= np.arange(H)[:, None] <= 232
    assert (laid & right_shin).sum() / right_shin.sum() >= 0.9


@pytest.mark.parametrize("span", [14, 24, 40])
def test_the_garments_length_follows_the_legs_not_the_hip_joints_span(span):
    pose = FRAMED.copy()  # the hip joints as mediapipe may place them, the legs as they are
    pose[J["r_hip"], 0], pose[J["l_hip"], 0] = 96 - span / 2, 96 + span / 2
    trousers, shorts = _laid(_trousers(), pose), _laid(_trousers(leg_end=105, spread=6), pose)
    assert trousers[225:232].any(1).all()  # to the ankles (row 232)
    assert shorts[120:135].any(1).all() and not shorts[170:].any()  # above the knees (row 177)


def test_shorts_stop_above_the_knees():
    laid = _laid(_trousers(leg_end=105, spread=6))  # as long as the waist is wide
    assert _covered(laid, 120, 140) >= 0.9
    assert _covered(laid, 177, 232) < 0.05


def test_a_skirt_covers_both_legs_and_the_gap_between():
    laid = _laid(_skirt())
    assert _covered(laid, 120, 165) >= 0.95
    assert laid[150, 94:100].all()


def test_a_dress_covers_the_torso_and_the_legs_from_the_shoulders_down():
    laid = _laid(_dress(), category="dress")
    torso = pose_region(FRAMED, "dress", H, W) & ~pose_region(FRAMED, "lower", H, W)
    torso[:, :80] = torso[:, 113:] = False  # the torso between the shoulders, not the arms
    assert (laid & torso).sum() / torso.sum() >= 0.9
    assert _covered(laid, 125, 177) >= 0.95  # a knee-length dress or longer
    assert laid[150, 94:100].all()  # one skirt over both legs
    assert not laid[:50].any()  # nothing over the head and neck


def test_a_leaning_garment_is_turned_upright_before_it_is_read():
    leaning = ndimage.rotate(_trousers().astype(np.uint8), 20, reshape=False, order=0) > 0
    assert garment_shape(leaning).legs is not None
    laid = _laid(leaning)
    assert _covered(laid, 120, 177) >= 0.9 and _covered(laid, 177, 232) >= 0.8


def test_knees_hidden_under_a_long_skirt_are_placed_along_the_torso():
    hidden = FRAMED.copy()
    hidden[[J["r_knee"], J["l_knee"], J["r_ankle"], J["l_ankle"]], 2] = 0  # mediapipe does not see them
    shorts = _laid(_trousers(leg_end=105, spread=6), hidden)
    trousers = _laid(_trousers(), hidden)
    # each keeps its own length: shorts on the thighs (not stretched down into the long skirt's place), trousers
    # to the feet; the knees are placed 0.79 torsos (60 pixels) below the hips, at row 167 (the true ones at 177)
    assert _covered(shorts, 120, 140) >= 0.9 and not shorts[175:].any()
    assert _covered(trousers, 120, 177) >= 0.9 and trousers[215:].any()
    sideways = hidden.copy()
    sideways[J["r_hip"], 0], sideways[J["l_hip"], 0] = 90, 102  # hips 12 pixels apart under shoulders 44 apart
    assert pose_grid(sideways, _trousers()) is None  # the learnt warp takes over


def test_without_knees_or_hips_or_sitting_there_is_no_pose_laid_warp():
    no_knees = FRAMED.copy()
    no_knees[[J["r_knee"], J["l_knee"], J["r_shoulder"], J["l_shoulder"]], 2] = 0  # nothing to place them by
    assert pose_grid(no_knees, _trousers()) is None
    no_hip = FRAMED.copy()
    no_hip[J["l_hip"], 2] = 0
    assert pose_grid(no_hip, _trousers()) is None
    sitting = FRAMED.copy()
    sitting[J["r_knee"], :2], sitting[J["l_knee"], :2] = (40, 130), (60, 128)  # thighs towards the camera's left
    assert pose_grid(sitting, _trousers()) is None
    no_shoulder = FRAMED.copy()
    no_shoulder[J["l_shoulder"], 2] = 0
    assert pose_grid(no_shoulder, _dress(), "dress") is None and pose_grid(no_shoulder, _trousers()) is not None


@pytest.mark.parametrize("categories", [("lower",), ("lower", "dress")])
def test_the_pipeline_lays_its_categories_by_the_pose_and_leaves_tops_and_the_others_alone(categories):
    pipe = TryOnPipeline.untrained(**TINY)
    torch.manual_seed(0)
    mask = torch.from_numpy(np.stack([_trousers(), _trousers(), _dress()])).float()[:, None]
    batch = {"repr": torch.randn(3, PERSON_REPR_CHANNELS, H, W), "cloth": torch.rand(3, 3, H, W) * 2 - 1,
             "cloth_mask": mask, "pose": torch.from_numpy(np.stack([FRAMED] * 3)),
             "category": ["upper", "lower", "dress"]}
    pipe.pose_layout = categories
    laid = pipe.warp_parts(batch)
    pipe.pose_layout = ()
    learnt = pipe.warp_parts(batch)
    assert laid.laid_by_pose.tolist() == [c in categories for c in batch["category"]]
    assert not learnt.laid_by_pose.any()
    no_hips = {**batch, "pose": batch["pose"].clone()}
    no_hips["pose"][:, [J["r_hip"], J["l_hip"]], 2] = 0  # the pose allows no layout: the learnt warp, and it says so
    pipe.pose_layout = categories
    assert not pipe.warp_parts(no_hips).laid_by_pose.any()
    for i, category in enumerate(batch["category"]):
        if category not in categories:  # the learnt warp's
            assert torch.equal(laid.mask[i], learnt.mask[i])
            assert torch.equal(laid.control_points[i], learnt.control_points[i])
            continue
        expected = torch.from_numpy(_laid(mask[i, 0].numpy() > 0.5, category=category)).float()
        assert (laid.mask[i, 0] - expected).abs().mean() < 0.03  # the flow carries the pose-laid grid at half size
        assert (learnt.mask[i, 0] - expected).abs().mean() > 0.1


def test_the_pose_layout_names_only_lower_and_dress():
    from tryon.models.chain import pose_layout_categories

    assert pose_layout_categories("lower, dress") == ("lower", "dress")
    assert pose_layout_categories("none") == pose_layout_categories("") == ()
    with pytest.raises(TryOnError, match="not upper"):
        pose_layout_categories("lower,upper")


# where a new garment may show (tryon.preprocess.person.shown_region) ----------------------------------------------
def _wide_trousers_parse() -> np.ndarray:
    """The FRAMED person at the models' size in wide trousers (labelled lower) from the waist to the ankles."""
    parse = np.zeros((H, W), np.uint8)
    parse[:110, 70:122] = P["upper"]
    parse[110:236, 50:142] = P["lower"]
    parse[236:250, 70:122] = P["shoes"]
    return parse


def test_a_pose_laid_garment_shows_past_the_old_one_but_never_over_what_is_kept():
    from tryon.preprocess.person import shown_region

    parse = _wide_trousers_parse()
    parse[150:170, 40:60] = P["accessory"]  # a bag at the thigh
    agnostic = agnostic_mask(parse, FRAMED, "lower")
    laid = shown_region(parse, agnostic, "lower", laid_by_pose=True)
    learnt = shown_region(parse, agnostic, "lower", laid_by_pose=False)
    assert np.array_equal(learnt, agnostic)
    past = laid & ~agnostic
    assert past[200:250, 34:46].all() and past[240:250, 60:68].all()  # the street beside and below the old garment
    assert not laid[:, :20].any() and not laid[:, 170:].any()  # never far off the body
    for kept in ("upper", "shoes", "accessory"):
        assert not laid[parse == P[kept]].any()


def test_a_dress_the_learnt_warp_lays_comes_out_longer_below_the_hips_and_nothing_else_changes(monkeypatch):
    import tryon.pipeline

    pipe = TryOnPipeline.untrained(**TINY)
    torch.manual_seed(0)
    panel = np.zeros((H, W), bool)
    panel[40:150, 70:122] = True
    batch = {"repr": torch.randn(3, PERSON_REPR_CHANNELS, H, W), "cloth": torch.rand(3, 3, H, W) * 2 - 1,
             "cloth_mask": torch.from_numpy(np.stack([panel] * 3)).float()[:, None],
             "pose": torch.from_numpy(np.stack([FRAMED] * 3)), "category": ["upper", "lower", "dress"]}
    pipe.pose_layout = ()  # all three by the learnt warp
    monkeypatch.setattr(tryon.pipeline, "DRESS_LENGTH", 1.0)
    plain = pipe.warp_parts(batch)
    monkeypatch.setattr(tryon.pipeline, "DRESS_LENGTH", 1.5)
    longer = pipe.warp_parts(batch)
    for i in (0, 1):  # a top and a bottom as they were
        assert torch.equal(plain.mask[i], longer.mask[i]) and torch.equal(plain.image[i], longer.image[i])
    assert (plain.mask[2, 0, :112] - longer.mask[2, 0, :112]).abs().max() < 0.05  # above the hips (row 120) too
    hem = lambda m: int(np.nonzero((m[0] > 0.5).any(1).numpy())[0].max())
    assert hem(longer.mask[2]) - 120 == pytest.approx(1.5 * (hem(plain.mask[2]) - 120), abs=3)
    assert hem(plain.mask[2]) > 135  # the panel reached well below the hips to begin with
    no_hips = {**batch, "pose": batch["pose"].clone()}
    no_hips["pose"][:, J["l_hip"], 2] = 0
    assert torch.equal(pipe.warp_parts(no_hips).mask[2], plain.mask[2])  # no hips seen: nothing to measure from
