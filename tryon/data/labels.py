"""Label sets shared by every layout: one body-parse label set, garment categories and the 18 OpenPose joints.

Each dataset stores its parse maps in its own label set (LIP in VITON, CIHP-style in VITON-HD, DressCode's own);
readers map them to `PARSE_LABELS` here, so the models see one vocabulary whatever the source.
Left and right are the person's own (their left arm is on the image's right).
"""
import numpy as np

PARSE_LABELS = (
    "background", "hair", "face", "neck", "upper", "lower", "dress",
    "left_arm", "right_arm", "left_leg", "right_leg", "shoes", "accessory",
)
NUM_PARSE = len(PARSE_LABELS)
P = {name: i for i, name in enumerate(PARSE_LABELS)}
# One colour per body-parse label, for looking at parse maps (indexed by label; partial labels and IGNORE white).
PARSE_COLOURS = np.array([
    (0, 0, 0), (128, 64, 0), (255, 204, 153), (255, 128, 128), (220, 40, 40), (40, 60, 200), (160, 40, 160),
    (40, 180, 40), (180, 220, 40), (40, 160, 160), (100, 200, 255), (90, 90, 90), (255, 220, 0),
] + [(255, 255, 255)] * (256 - NUM_PARSE), dtype=np.uint8)

# Garment categories and the parse labels that the garment of each category covers on the person.
CATEGORIES = ("upper", "lower", "dress")
GARMENT_LABELS = {
    "upper": (P["upper"], P["dress"]),
    "lower": (P["lower"],),
    "dress": (P["upper"], P["lower"], P["dress"]),
}
# Skin that a new garment of the category may cover or uncover: removed from the agnostic person too.
SKIN_LABELS = {
    "upper": (P["left_arm"], P["right_arm"], P["neck"]),
    "lower": (P["left_leg"], P["right_leg"]),
    "dress": (P["left_arm"], P["right_arm"], P["neck"], P["left_leg"], P["right_leg"]),
}
# What the agnostic person always keeps untouched. For bottoms and dresses, accessories too: a bag held in front of
# the legs, a scarf or a belt stays in front of the new garment instead of being repainted as a blur.
KEEP_LABELS = {
    "upper": (P["hair"], P["face"], P["lower"], P["left_leg"], P["right_leg"], P["shoes"]),
    "lower": (P["hair"], P["face"], P["upper"], P["left_arm"], P["right_arm"], P["neck"], P["shoes"], P["accessory"]),
    "dress": (P["hair"], P["face"], P["shoes"], P["accessory"]),
}

# LIP (VITON, 0-19, plus 20 = neck in CP-VTON+'s image-parse-new).
LIP_LABELS = (
    "background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress", "coat", "socks", "pants",
    "jumpsuits", "scarf", "skirt", "face", "left-arm", "right-arm", "left-leg", "right-leg", "left-shoe",
    "right-shoe", "neck",
)
_FROM_LIP = [
    P["background"], P["hair"], P["hair"], P["accessory"], P["face"], P["upper"], P["dress"], P["upper"],
    P["shoes"], P["lower"], P["dress"], P["accessory"], P["lower"], P["face"], P["left_arm"], P["right_arm"],
    P["left_leg"], P["right_leg"], P["shoes"], P["shoes"], P["neck"],
]
# CIHP-style (VITON-HD image-parse-v3): as LIP but 10 is torso skin, which sits where the neck and chest show.
_FROM_CIHP = list(_FROM_LIP[:20])
_FROM_CIHP[10] = P["neck"]
# DressCode label_maps.
DRESSCODE_LABELS = (
    "background", "hat", "hair", "sunglasses", "upper_clothes", "skirt", "pants", "dress", "belt", "left_shoe",
    "right_shoe", "head", "left_leg", "right_leg", "left_arm", "right_arm", "bag", "scarf",
)
_FROM_DRESSCODE = [
    P["background"], P["hair"], P["hair"], P["face"], P["upper"], P["lower"], P["lower"], P["dress"],
    P["accessory"], P["shoes"], P["shoes"], P["face"], P["left_leg"], P["right_leg"], P["left_arm"],
    P["right_arm"], P["accessory"], P["accessory"],
]


# Partial labels, for sources that know a pixel's kind but not its side or part (CCP has one "skin" label): a target
# value NUM_PARSE + k says "one of PARTIAL_LABELS[k]", and the parser's loss accepts any of them there.
PARTIAL_LABELS = (
    (P["face"], P["neck"], P["left_arm"], P["right_arm"], P["left_leg"], P["right_leg"]),  # skin
    (P["left_leg"], P["right_leg"]),  # legs (tights, stockings)
)
SKIN_ANY, LEGS_ANY = NUM_PARSE, NUM_PARSE + 1
IGNORE = 255  # a target pixel no loss or metric reads

# The seven classes parsers are compared on across datasets (street photos label skin as one class).
MERGED_LABELS = ("background", "hair", "skin", "upper", "lower", "dress", "shoes")
_TO_MERGED = {
    "background": 0, "accessory": 0, "hair": 1, "face": 2, "neck": 2, "left_arm": 2, "right_arm": 2, "left_leg": 2,
    "right_leg": 2, "upper": 3, "lower": 4, "dress": 5, "shoes": 6,
}
MERGED_LUT = np.full(256, IGNORE, dtype=np.uint8)  # parse labels (and partial labels) -> merged classes
MERGED_LUT[:NUM_PARSE] = [_TO_MERGED[name] for name in PARSE_LABELS]
MERGED_LUT[SKIN_ANY] = MERGED_LUT[LEGS_ANY] = _TO_MERGED["face"]

# CCP (Clothing Co-Parsing, 59 tags). Bags, belts, jewellery and the like are accessories; outerwear is upper
# clothing; hats count as hair and glasses as face, as LIP's do in _FROM_LIP.
CCP_TAGS = (
    "background", "accessories", "bag", "belt", "blazer", "blouse", "bodysuit", "boots", "bra", "bracelet", "cape",
    "cardigan", "clogs", "coat", "dress", "earrings", "flats", "glasses", "gloves", "hair", "hat", "heels", "hoodie",
    "intimate", "jacket", "jeans", "jumper", "leggings", "loafers", "necklace", "panties", "pants", "pumps", "purse",
    "ring", "romper", "sandals", "scarf", "shirt", "shoes", "shorts", "skin", "skirt", "sneakers", "socks",
    "stockings", "suit", "sunglasses", "sweater", "sweatshirt", "swimwear", "t-shirt", "tie", "tights", "top", "vest",
    "wallet", "watch", "wedges",
)
_CCP_KIND = {
    "accessory": ("accessories", "bag", "belt", "bracelet", "earrings", "gloves", "necklace", "purse", "ring", "scarf",
                  "tie", "wallet", "watch"),
    "upper": ("blazer", "blouse", "bodysuit", "bra", "cape", "cardigan", "coat", "hoodie", "intimate", "jacket",
              "jumper", "shirt", "suit", "sweater", "sweatshirt", "swimwear", "t-shirt", "top", "vest"),
    "lower": ("jeans", "leggings", "pants", "panties", "shorts", "skirt"),
    "dress": ("dress", "romper"),
    "shoes": ("boots", "clogs", "flats", "heels", "loafers", "pumps", "sandals", "shoes", "sneakers", "socks", "wedges"),
    "hair": ("hair", "hat"),
    "face": ("glasses", "sunglasses"),
}
_FROM_CCP = [P["background"]] * len(CCP_TAGS)
for _kind, _tags in _CCP_KIND.items():
    for _tag in _tags:
        _FROM_CCP[CCP_TAGS.index(_tag)] = P[_kind]
_FROM_CCP[CCP_TAGS.index("skin")] = SKIN_ANY
for _tag in ("stockings", "tights"):
    _FROM_CCP[CCP_TAGS.index(_tag)] = LEGS_ANY


def _lut(mapping):
    lut = np.zeros(256, dtype=np.uint8)  # unknown values fall back to background
    lut[: len(mapping)] = mapping
    return lut


PARSE_LUTS = {"lip": _lut(_FROM_LIP), "cihp": _lut(_FROM_CIHP), "dresscode": _lut(_FROM_DRESSCODE),
              "ccp": _lut(_FROM_CCP)}
SOURCE_NUM_LABELS = {"lip": len(_FROM_LIP), "cihp": len(_FROM_CIHP), "dresscode": len(_FROM_DRESSCODE),
                     "ccp": len(_FROM_CCP)}
# Our labels written as CIHP-style values (VITON-HD image-parse-v3), which PARSE_LUTS["cihp"] reads back unchanged.
PARSE_TO_CIHP = np.array([0, 2, 13, 10, 5, 9, 6, 14, 15, 16, 17, 18, 3], dtype=np.uint8)

# Label swaps for a horizontal flip (partial labels and IGNORE index past the labels and stay as they are).
PARSE_FLIP = np.arange(256, dtype=np.int64)
for _a, _b in (("left_arm", "right_arm"), ("left_leg", "right_leg")):
    PARSE_FLIP[P[_a]], PARSE_FLIP[P[_b]] = P[_b], P[_a]

# The 18 OpenPose COCO joints, in OpenPose order.
JOINTS = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip", "r_knee",
    "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
NUM_JOINTS = len(JOINTS)
J = {name: i for i, name in enumerate(JOINTS)}
JOINT_FLIP = np.arange(NUM_JOINTS)
for _a, _b in ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17)):
    JOINT_FLIP[_a], JOINT_FLIP[_b] = _b, _a
# OpenPose BODY_25 -> COCO-18 (BODY_25 adds mid-hip at 8 and six foot points at the end).
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
