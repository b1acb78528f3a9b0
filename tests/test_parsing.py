"""Reading real photos: the CCP reader, the parser's training samples, its partial-label loss, the background gate,
full-body framing, and the garment segmenter's samples and cut-out."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tryon.data.ccp import in_val_split, load_ccp, read_ccp
from tryon.data.dataset import to_tensor
from tryon.data.garment_photos import GarmentPhotoDataset, texture
from tryon.data.labels import CCP_TAGS, IGNORE, LEGS_ANY, MERGED_LUT, NUM_PARSE, PARTIAL_LABELS, SKIN_ANY, J, P
from tryon.data.layouts import Pair
from tryon.data.parsing import ParserDataset, warp_to_box
from tryon.errors import DatasetError, TryOnError
from tryon.preprocess import framing
from tryon.preprocess.garment import REFINE_KEEP, garment_mask, is_plain_background, refine_cutout, segment_garment
from tryon.preprocess.parse import crop_person_mask, keep_on_person, no_top_below_hips, parse_photos, shoes_at_feet
from tryon.training.losses import partial_cross_entropy

REPO = Path(__file__).resolve().parents[1]
CCP = REPO.parent / "shared" / "datasets" / "ccp"
TAG = {name: i for i, name in enumerate(CCP_TAGS)}


def _person_labels(height=240, width=160):
    """A CCP-style label map of a standing person: hair, skin (face), a t-shirt, jeans, skin (legs)... as CCP tags."""
    tags = np.full((height, width), TAG["background"], np.uint8)
    tags[20:45, 60:100] = TAG["hair"]
    tags[45:65, 65:95] = TAG["skin"]
    tags[65:130, 50:110] = TAG["t-shirt"]
    tags[130:200, 55:105] = TAG["jeans"]
    tags[200:225, 60:100] = TAG["tights"]
    tags[225:235, 60:100] = TAG["boots"]
    tags[90:110, 110:125] = TAG["bag"]
    return tags


@pytest.fixture()
def fake_ccp(tmp_path):
    """A CCP folder of four photos (0001, 0002, 0009 and 0018) whose pixels say their label: person white."""
    root = tmp_path / "ccp"
    (root / "photos").mkdir(parents=True)
    (root / "labels").mkdir()
    tags = _person_labels()
    for name in ("0001", "0002", "0009", "0018"):
        rgb = np.where((tags != TAG["background"])[..., None], 235, 25).astype(np.uint8).repeat(3, -1)
        Image.fromarray(rgb).save(root / "photos" / f"{name}.jpg", quality=95)
        Image.fromarray(tags).save(root / "labels" / f"{name}.png")
    return root


def test_ccp_reader_splits_by_number_and_maps_every_tag(fake_ccp):
    assert [p.name for p in read_ccp(fake_ccp, "val")] == ["0009", "0018"]
    assert [p.name for p in read_ccp(fake_ccp, "train")] == ["0001", "0002"]
    assert len(read_ccp(fake_ccp, "all")) == 4 and in_val_split("0099") and not in_val_split("0100")
    rgb, labels = load_ccp(read_ccp(fake_ccp, "train")[0])
    assert rgb.shape == (240, 160, 3)
    assert labels[30, 80] == P["hair"] and labels[100, 80] == P["upper"] and labels[150, 80] == P["lower"]
    assert labels[55, 80] == SKIN_ANY and labels[210, 80] == LEGS_ANY  # CCP's one skin label is partial
    assert labels[230, 80] == P["shoes"] and labels[100, 118] == P["accessory"] and labels[5, 5] == P["background"]
    for tag, label in (("dress", P["dress"]), ("coat", P["upper"]), ("skirt", P["lower"]), ("hat", P["hair"]),
                       ("sunglasses", P["face"]), ("romper", P["dress"]), ("sneakers", P["shoes"])):
        Image.fromarray(np.full((240, 160), TAG[tag], np.uint8)).save(fake_ccp / "labels" / "0002.png")
        assert (load_ccp(read_ccp(fake_ccp, "train")[1])[1] == label).all(), tag


def test_ccp_reader_refuses_bad_folders(fake_ccp, tmp_path):
    with pytest.raises(DatasetError, match="not a CCP folder"):
        read_ccp(tmp_path)
    with pytest.raises(DatasetError, match="unknown CCP split"):
        read_ccp(fake_ccp, "test")
    Image.fromarray(np.full((240, 160), 59, np.uint8)).save(fake_ccp / "labels" / "0001.png")
    with pytest.raises(DatasetError, match="0001.png: tag 59 is outside"):
        load_ccp(read_ccp(fake_ccp, "train")[0])
    (fake_ccp / "labels" / "0002.png").unlink()
    with pytest.raises(DatasetError, match="0002.jpg: its label file"):
        read_ccp(fake_ccp, "train")


def test_ccp_tags_are_the_datasets_own():
    names = CCP / "label_names.txt"
    if not names.is_file():
        pytest.skip("CCP not found")
    assert tuple(line.split()[1] for line in names.read_text().splitlines() if line.strip()) == CCP_TAGS


def test_partial_cross_entropy_accepts_any_label_of_a_partial_one():
    logits = torch.randn(2, NUM_PARSE, 6, 5)
    target = torch.randint(0, NUM_PARSE, (2, 6, 5))
    assert torch.allclose(partial_cross_entropy(logits, target, PARTIAL_LABELS), F.cross_entropy(logits, target))
    sure = lambda label: F.one_hot(torch.full((1, 4, 4), label), NUM_PARSE).permute(0, 3, 1, 2).float() * 30
    skin = torch.full((1, 4, 4), SKIN_ANY)
    for label in PARTIAL_LABELS[0]:  # any skin label is right where CCP says skin
        assert partial_cross_entropy(sure(label), skin, PARTIAL_LABELS) < 1e-6
    assert partial_cross_entropy(sure(P["upper"]), skin, PARTIAL_LABELS) > 20
    assert partial_cross_entropy(sure(P["face"]), torch.full((1, 4, 4), LEGS_ANY), PARTIAL_LABELS) > 20
    ignored = torch.full((1, 4, 4), IGNORE)
    ignored[0, 0, 0] = P["upper"]  # one counted pixel, right: the mean over counted pixels is ~0
    assert partial_cross_entropy(sure(P["upper"]), ignored, PARTIAL_LABELS) < 1e-6


def test_parser_samples_keep_labels_on_their_pixels(fake_ccp):
    ds = ParserDataset(ccp=read_ccp(fake_ccp, "all"), augment=True)
    for epoch in range(4):
        for i in range(len(ds)):
            s = ds[i, epoch]
            image, labels = s["image"].numpy().mean(0), s["labels"].numpy()
            assert s["image"].shape == (3, 256, 192) and labels.shape == (256, 192)
            person = (labels != P["background"]) & (labels != IGNORE)
            core = torch.nn.functional.max_pool2d(torch.from_numpy(~person)[None, None].float(), 7, 1, 3)[0, 0] == 0
            ground = torch.nn.functional.max_pool2d(torch.from_numpy(person)[None, None].float(), 7, 1, 3)[0, 0] == 0
            ground = ground.numpy() & (labels == P["background"])
            assert core.any() and ground.any()
            # the person was painted light and the street dark: augmentation moved both alike
            assert (image[core.numpy()] > image[ground].max() - 0.1).mean() > 0.97
    # a flip swaps the sides: left and right labels trade places with the pixels
    labels = np.zeros((40, 30), np.uint8)
    labels[:, :10] = P["left_arm"]
    rgb = np.zeros((40, 30, 3), np.uint8)
    _, moved = warp_to_box(rgb, labels, (0, 0, 30, 40), 0.0, 30, 40, IGNORE)
    assert (moved == labels).all()


def test_the_full_body_parser_sees_ccp_persons_framed_head_to_feet_only(fake_ccp):
    """framing="full" (the full-body parser's config): samples show the person head to feet (the head always, the
    feet but where a tight frame cuts them by up to a tenth of the person's height); "upper" crops more than half of
    them to head and torso."""
    def shown(framing_name):
        ds = ParserDataset(ccp=read_ccp(fake_ccp, "all"), augment=True, framing=framing_name)
        labels = [ds[i, epoch]["labels"].numpy() for epoch in range(10) for i in range(len(ds))]
        return np.array([[(lab == P[name]).any() for name in ("hair", "shoes")] for lab in labels])

    full, upper = shown("full"), shown("upper")
    assert full[:, 0].all() and full[:, 1].mean() >= 0.9
    assert upper[:, 0].all() and upper[:, 1].mean() < 0.6


def test_studio_persons_are_laid_on_backgrounds_with_labels_aligned(tmp_path):
    d = tmp_path / "viton"
    (d / "image").mkdir(parents=True)
    (d / "parse").mkdir()
    person = np.full((256, 192, 3), 250, np.uint8)
    parse = np.zeros((256, 192), np.uint8)
    parse[60:256, 50:140] = 5  # LIP upper clothes, painted red
    person[parse == 5] = (220, 20, 20)
    Image.fromarray(person).save(d / "image" / "a.png")
    Image.fromarray(parse).save(d / "parse" / "a.png")
    pair = Pair(d / "image" / "a.png", d / "image" / "a.png", None, d / "parse" / "a.png", "lip", d / "x", "openpose",
                "upper", True)
    ds = ParserDataset([pair], augment=True)
    for epoch in range(6):
        s = ds[0, epoch]
        rgb, labels = s["image"].numpy(), s["labels"].numpy()
        upper = labels == P["upper"]
        inner = torch.nn.functional.max_pool2d(torch.from_numpy(~upper)[None, None].float(), 5, 1, 2)[0, 0] == 0
        r, g, b = rgb[:, inner.numpy()]
        assert inner.sum() > 500 and ((r > g + 0.3) & (r > b + 0.3)).mean() > 0.97
        assert (labels[~upper] == P["background"]).all()  # the rest is background, whatever was drawn under it
    # studio=1 keeps every person on its own background, unmoved (but for the flip); studio=0 none
    flipped = parse[:, ::-1] == 5
    for studio, kept in ((1.0, 6), (0.0, 0)):
        ds = ParserDataset([pair], augment=True, studio=studio)
        as_shot = [np.array_equal(ds[0, e]["labels"].numpy() == P["upper"], parse == 5) or
                   np.array_equal(ds[0, e]["labels"].numpy() == P["upper"], flipped) for e in range(6)]
        assert sum(as_shot) == kept


def test_background_is_never_labelled_clothing_outside_the_person():
    labels = np.full((256, 192), P["upper"], np.uint8)  # a parser that took the whole photo for a shirt
    person = np.zeros((256, 192), bool)
    person[40:220, 60:130] = True
    kept = keep_on_person(labels, person)
    grow = 4  # 1/64 of the height
    assert (kept[40:220, 60:130] == P["upper"]).all()
    outside = np.ones_like(person)
    outside[40 - grow:220 + grow, 60 - grow:130 + grow] = False
    assert (kept[outside] == P["background"]).all()


def test_shoes_are_only_where_the_pose_puts_the_feet():
    labels = np.full((256, 192), P["upper"], np.uint8)
    labels[150:, 60:130] = P["lower"]
    labels[230:, 60:130] = P["shoes"]  # the feet
    labels[90:100, 90:100] = P["shoes"]  # a patch on the shirt
    labels[160:170, 70:80] = P["shoes"]  # and one on the trousers, above the knees
    pose = np.zeros((len(J), 3), np.float32)
    pose[J["r_knee"]], pose[J["l_knee"]] = (80, 190, 1), (110, 192, 1)
    fixed = shoes_at_feet(labels, pose)
    assert (fixed[230:, 60:130] == P["shoes"]).all()
    assert (fixed[90:100, 90:100] == P["upper"]).all() and (fixed[160:170, 70:80] == P["lower"]).all()
    below = pose.copy()
    below[[J["r_knee"], J["l_knee"]], 1] = 300  # framed head to hips: the knees below the crop, no feet in it
    assert not (shoes_at_feet(labels, below) == P["shoes"]).any()
    unseen = pose.copy()
    unseen[[J["r_knee"], J["l_knee"]]] = 0
    assert np.array_equal(shoes_at_feet(labels, unseen), labels)  # nothing to go by



def test_a_part_of_a_top_well_below_the_hips_is_the_skirt_it_lies_in():
    labels = np.full((256, 192), P["background"], np.uint8)
    labels[60:130, 60:130] = P["upper"]  # the top, down to the hips (row 120)
    labels[130:230, 55:135] = P["lower"]  # a long skirt
    labels[180:200, 70:90] = P["upper"]  # a patch of it read as a top
    labels[125:150, 100:110] = P["upper"]  # the top's hem hanging over the skirt, joined to the top
    pose = np.zeros((len(J), 3), np.float32)
    pose[J["r_hip"]], pose[J["l_hip"]] = (80, 120, 1), (110, 120, 1)
    pose[J["r_knee"]], pose[J["l_knee"]] = (80, 175, 1), (110, 175, 1)
    fixed = no_top_below_hips(labels, pose)
    assert (fixed[180:200, 70:90] == P["lower"]).all()
    assert np.array_equal(fixed[:160], labels[:160])  # the top and its hem stay
    dress = labels.copy()
    dress[130:230, 55:135][dress[130:230, 55:135] == P["lower"]] = P["dress"]
    assert (no_top_below_hips(dress, pose)[180:200, 70:90] == P["dress"]).all()
    coat = labels.copy()
    coat[120:200, 60:130] = P["upper"]  # a long coat: one part from the shoulders down
    assert np.array_equal(no_top_below_hips(coat, pose), coat)
    no_hips = pose.copy()
    no_hips[J["l_hip"]] = 0
    assert np.array_equal(no_top_below_hips(labels, no_hips), labels)


def test_person_mask_is_cut_like_the_photo():
    mask = np.zeros((100, 80), np.float32)  # detection ran at half the photo's size
    mask[20:60, 30:50] = 1.0
    box = (40, 20, 120, 140)  # photo pixels: the person at x 60-100, y 40-120 sits in the box's middle
    crop = crop_person_mask(mask, (160, 200), box, 120, 80)
    expected = np.zeros((120, 80), bool)
    expected[20:100, 20:60] = True
    assert (crop == expected).mean() > 0.98
    # a box past the photo's edge repeats the edge, as framing.crop does
    edge = crop_person_mask(np.ones((100, 80), np.float32), (160, 200), (-40, -40, 200, 280), 64, 48)
    assert edge.all()


def test_full_body_framing_reaches_the_feet():
    pose = np.zeros((18, 3), np.float32)
    joints = {"nose": (100, 40), "l_shoulder": (120, 80), "r_shoulder": (80, 80), "l_hip": (115, 200),
              "r_hip": (85, 200), "l_knee": (115, 290), "r_knee": (85, 290), "l_ankle": (115, 380),
              "r_ankle": (85, 380)}
    from tryon.data.labels import J
    for name, (x, y) in joints.items():
        pose[J[name]] = (x, y, 0.9)
    upper = framing.person_box(pose, 256, 192)
    full = framing.full_body_box(pose, 256, 192)
    assert upper[3] < 380 < full[3] and full[1] < 40 - 0.25 * 120  # feet below, the top of the head inside
    assert (full[3] - full[1]) * 192 == pytest.approx((full[2] - full[0]) * 256, abs=256)
    assert full[3] - full[1] >= upper[3] - upper[1]
    pose[J["l_ankle"], 2] = pose[J["r_ankle"], 2] = 0  # ankles out of the photo: where standing feet would be
    assert framing.full_body_box(pose, 256, 192)[3] > 380


def test_garment_samples_label_the_garment_pixels(tmp_path):
    d = tmp_path / "g"
    d.mkdir()
    cloth = np.full((256, 192, 3), 255, np.uint8)
    mask = np.zeros((256, 192), bool)
    mask[40:220, 30:160] = True
    cloth[mask] = (20, 200, 30)
    Image.fromarray(cloth).save(d / "c.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(d / "m.png")
    pair = Pair(d / "c.png", d / "c.png", d / "m.png", d / "c.png", "lip", d / "x", "openpose", "upper", True)
    ds = GarmentPhotoDataset([pair], augment=True)
    for epoch in range(5):
        s = ds[0, epoch]
        rgb, labels = s["image"].numpy(), s["labels"].numpy().astype(bool)
        inner = torch.nn.functional.max_pool2d(torch.from_numpy(~labels)[None, None].float(), 5, 1, 2)[0, 0] == 0
        r, g, b = rgb[:, inner.numpy()]
        assert 0.05 < labels.mean() < 0.95 and ((g > r + 0.3) & (g > b + 0.3)).mean() > 0.97
    assert not ds[0, 0]["labels"].equal(ds[0, 1]["labels"])  # a new draw each epoch
    fixed = GarmentPhotoDataset([pair], augment=False)
    assert fixed[0, 0]["image"].equal(fixed[0, 7]["image"])  # a test set is the same every time


def test_plain_backgrounds_keep_the_background_rule_and_busy_ones_need_the_segmenter():
    rng = np.random.default_rng(0)
    product = np.full((200, 150, 3), 250, np.uint8)
    product[30:170, 30:120] = (40, 60, 160)
    assert is_plain_background(product)
    floor = texture(rng, 200, 150)
    assert not is_plain_background(floor)

    class Everything(torch.nn.Module):  # a "segmenter" that sees garment everywhere
        device, dtype = torch.device("cpu"), torch.float32

        def forward(self, x):
            return torch.stack([-x[:, 0] * 0 - 5, x[:, 0] * 0 + 5], 1)

        def predict(self, x):
            return self(x).argmax(1)

    segmenter = Everything()
    # a product shot never reaches the segmenter: the background rule cuts it as before
    assert garment_mask(Image.fromarray(product), segmenter)[100, 75] and not garment_mask(
        Image.fromarray(product), segmenter)[5, 5]
    with pytest.raises(TryOnError, match="could not be told apart from its background"):
        garment_mask(Image.fromarray(floor), segmenter)


def test_segmenter_output_with_nothing_or_several_things_is_refused():
    class Fixed(torch.nn.Module):
        device, dtype = torch.device("cpu"), torch.float32

        def __init__(self, garment):
            super().__init__()
            self.garment = garment

        def forward(self, x):
            g = F.interpolate(self.garment[None, None].float(), size=x.shape[-2:])[0, 0] * 10 - 5
            return torch.stack([-g, g])[None]

        def predict(self, x):
            return self(x).argmax(1)

    image = Image.fromarray(texture(np.random.default_rng(1), 256, 192))
    nothing = torch.zeros(256, 192)
    with pytest.raises(TryOnError, match="no garment could be found"):
        segment_garment(Fixed(nothing), image)
    two = torch.zeros(256, 192)
    two[20:100, 20:80] = 1
    two[150:240, 100:180] = 1
    with pytest.raises(TryOnError, match="no single garment could be separated"):
        segment_garment(Fixed(two), image)
    one = torch.zeros(256, 192)
    one[30:230, 40:150] = 1
    one[100:120, 80:100] = 0  # a hole (a print the segmenter missed) is filled
    one[5:8, 5:8] = 1  # a speck is dropped
    mask = segment_garment(Fixed(one), image)
    assert mask[110, 90] and not mask[6, 6] and mask.sum() == pytest.approx(200 * 110, rel=0.03)


def _trousers_on_a_sheet():
    """A flat pair of dark blue trousers (legs apart) on a light, noisy sheet, [256, 192, 3], and its true mask."""
    from PIL import ImageDraw

    truth = Image.new("L", (192, 256), 0)
    draw = ImageDraw.Draw(truth)
    draw.rectangle([50, 30, 142, 100], fill=255)
    draw.polygon([(50, 100), (94, 100), (80, 235), (36, 235)], fill=255)
    draw.polygon([(98, 100), (142, 100), (156, 235), (112, 235)], fill=255)
    truth = np.asarray(truth) > 0
    rng = np.random.default_rng(3)
    sheet = np.clip(np.array([225, 215, 195]) + rng.normal(0, 8, (256, 192, 3)), 0, 255)
    garment = np.clip(np.array([40, 55, 110]) + rng.normal(0, 8, (256, 192, 3)), 0, 255)
    return np.where(truth[..., None], garment, sheet).astype(np.uint8), truth


def test_the_cutout_edge_follows_the_colours_and_drops_the_sheet_between_the_legs():
    photo, truth = _trousers_on_a_sheet()
    from PIL import ImageDraw

    taken = Image.fromarray(truth.astype(np.uint8) * 255)
    ImageDraw.Draw(taken).polygon([(80, 235), (96, 100), (112, 235)], fill=255)  # the sheet between the legs
    ImageDraw.Draw(taken).ellipse([140, 120, 175, 160], fill=255)  # and a patch of it beside a leg
    taken = np.asarray(taken) > 0
    iou = lambda m: (m & truth).sum() / (m | truth).sum()
    assert iou(taken) < 0.9
    cut = refine_cutout(photo, taken)
    assert iou(cut) > 0.95 and not cut[200, 96]
    # GrabCut taking away most of what the segmenter saw (here: a box around the trousers, most of it sheet) is not
    # trusted: the mask comes back as it was
    box = np.zeros_like(truth)
    box[4:252, 4:188] = True
    assert truth.sum() < REFINE_KEEP * box.sum() and np.array_equal(refine_cutout(photo, box), box)


def test_merged_classes_count_partial_skin_as_skin():
    assert MERGED_LUT[SKIN_ANY] == MERGED_LUT[LEGS_ANY] == MERGED_LUT[P["left_arm"]] == MERGED_LUT[P["face"]]
    assert MERGED_LUT[P["accessory"]] == MERGED_LUT[P["background"]] and MERGED_LUT[IGNORE] == IGNORE


@pytest.mark.parametrize("size", [(256, 192), (250, 170)])
def test_lite0_parser_reads_imagenet_weights_and_labels_any_size(size):
    from tryon.models import HumanParser
    from tryon.models.efficientnet import load_imagenet_weights

    parser = HumanParser(base_channels=8, backbone="efficientnet_lite0")
    before = parser.encoder._blocks[3]._depthwise_conv.weight.clone()
    load_imagenet_weights(parser.encoder)
    assert not torch.equal(before, parser.encoder._blocks[3]._depthwise_conv.weight)
    with torch.inference_mode():
        x = torch.rand(1, 3, *size) * 2 - 1
        features = parser.eval().encoder(x)
        logits = parser(x)
    assert [f.shape[1] for f in features] == [16, 24, 40, 112, 320]
    assert logits.shape == (1, NUM_PARSE, *size)
    # ImageNet features tell a smooth image from noise: the deepest feature differs clearly
    flat = parser.encoder(torch.zeros(1, 3, *size))[-1]
    assert (features[-1] - flat).abs().mean() > 0.05 * flat.abs().mean()


def test_label_weights_are_read_by_name():
    from tryon.data.labels import PARSE_LABELS
    from tryon.training.stages import label_weights

    w = label_weights("dress=4, shoes=2", PARSE_LABELS)
    assert w[P["dress"]] == 4 and w[P["shoes"]] == 2 and w.sum() == NUM_PARSE - 2 + 6
    assert label_weights("", PARSE_LABELS).eq(1).all()
    for bad, message in (("gown=2", "unknown label 'gown'"), ("dress=x", "not name=number"),
                         ("dress=-1", "0 or more")):
        with pytest.raises(TryOnError, match=message):
            label_weights(bad, PARSE_LABELS)


@pytest.mark.parametrize("kind, seed", [("trousers", 6), ("dress", 7), ("tshirt", 8), ("skirt", 9)])
def test_the_shipped_segmenter_cuts_a_garment_out_of_a_floor(kind, seed):
    """weights/'s garment segmenter on a drawn garment (never trained on) lying on a drawn floor or sheet. Of the
    first five seeds tried, seed 5 (a T-shirt whose stripes are the floor's grid colour) is cut into pieces and
    refused: a known failure (weights/README.md)."""
    from tryon.data.synthetic import make_garment
    from tryon.models import HumanParser
    from tryon.models.chain import load_pretrained

    segmenter = load_pretrained(HumanParser, REPO / "weights", "garment_segmenter").float().eval()
    rng = np.random.default_rng(seed)
    garment = make_garment(rng, kind, (300, 225))
    photo = texture(rng, 400, 300)
    while is_plain_background(photo):  # a busy floor: the segmenter's job, not the plain-background rule's
        photo = texture(rng, 400, 300)
    truth = np.zeros((400, 300), bool)
    truth[50:350, 40:265] = garment.mask
    photo[truth] = garment.texture[garment.mask]
    mask = garment_mask(Image.fromarray(photo), segmenter)
    assert (mask & truth).sum() / (mask | truth).sum() > 0.85


def test_a_parser_reads_photos_at_the_size_it_was_trained_at():
    """parse_photos crops each box at the parser's input size and brings its labels to the size asked for."""
    from tryon.models import HumanParser

    torch.manual_seed(0)
    photo = Image.fromarray(texture(np.random.default_rng(3), 900, 600))
    box = (50, 40, 530, 680)  # 3:4, as the pipeline frames a person
    parser = HumanParser(base_channels=8).eval()
    seen = []
    parser.register_forward_hook(lambda module, args, out: seen.append(tuple(args[0].shape[-2:])))
    labels = parse_photos(parser, [photo], [box], 256, 192)
    crop = np.asarray(framing.crop(photo, box, 256, 192))
    assert seen == [(256, 192)] * 2  # the crop and its mirror image
    assert np.array_equal(labels[0], parser.predict(to_tensor(crop)[None])[0].numpy())  # as the models' crop reads
    # crops already cut at the models' size are read as they are (the pipeline's person crop), not cut again
    assert np.array_equal(parse_photos(parser, [photo], [box], 256, 192, crops=[crop]), labels)
    flat = np.full_like(crop, 128)
    assert not np.array_equal(parse_photos(parser, [photo], [box], 256, 192, crops=[flat]), labels)
    parser.register_to_config(input_height=384, input_width=288)
    seen.clear()
    larger = parse_photos(parser, [photo, photo], [box, box], 256, 192)
    assert seen == [(384, 288)] * 2 and larger.shape == (2, 256, 192) and larger.dtype == np.uint8
    # a parser of another size cuts the photo itself: crops at the models' size are no use to it
    assert np.array_equal(parse_photos(parser, [photo], [box], 256, 192, crops=[flat]), larger[:1])
    assert (larger[0] != labels[0]).any()  # a different view of the photo


def test_the_street_option_draws_the_streets_of_ccp_train_photos_only(fake_ccp, tmp_path):
    from tryon.training.config import TrainConfig
    from tryon.training.trainer import street_backgrounds

    assert street_backgrounds(TrainConfig(stage="generator")) is None
    with pytest.raises(TryOnError, match="ccp"):
        street_backgrounds(TrainConfig(stage="generator", street=0.5))
    wide = tmp_path / "wide"  # the person in the middle of a photo wide enough for a street strip on each side
    shutil.copytree(fake_ccp, wide)
    for photo in sorted((wide / "photos").glob("*.jpg")):
        rgb = np.asarray(Image.open(photo))
        Image.fromarray(np.pad(rgb, ((0, 0), (100, 100), (0, 0)), constant_values=60)).save(photo)
        labels = wide / "labels" / f"{photo.stem}.png"
        Image.fromarray(np.pad(np.asarray(Image.open(labels)), ((0, 0), (100, 100)))).save(labels)
    backgrounds = street_backgrounds(TrainConfig(stage="generator", street=0.5, ccp=str(wide)))
    assert sorted({p.stem for p, _ in backgrounds.photos}) == ["0001", "0002"]  # 0009 and 0018 are val photos
    assert len(backgrounds.photos) == 4
    assert backgrounds.draw(np.random.default_rng(0), 48, 64).shape == (64, 48, 3)
