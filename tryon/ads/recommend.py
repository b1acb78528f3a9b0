"""Rank the catalog for a shopper: colour affinity, category and style match, budget, nothing already bought,
and some diversity in the top k. Every pick says why it was picked, naming only what actually scored."""
import logging
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from tryon.ads.colors import color_name, delta_e, dominant_colors, parse_color, rgb_to_lab
from tryon.ads.profile import Profile
from tryon.errors import TryOnError
from tryon.preprocess.garment import garment_mask
from tryon.preprocess.image_io import load_image
from tryon.products import Product

log = logging.getLogger(__name__)
WEIGHTS = {"color": 0.5, "category": 0.3, "style": 0.2}
COLOR_SIGMA = 12.0  # deltaE at which a colour counts as about 37% of a match
MATCH_DELTA_E = 12.0  # a garment colour this close to a preferred one is named in the reason
STYLE_KEYS = ("style", "styles", "tags")
VARIANT_KEYS = ("colors", "colours")  # catalog columns listing the other colours a product comes in
SIZE_KEYS = ("sizes",)
CATEGORY_WORDS = {"upper": "a top", "lower": "a bottom", "dress": "a dress"}


@dataclass(frozen=True)
class Pick:
    """A recommended product: its score (0-1), the reasons that made it, its measured colours
    ([(name, rgb, share)]), and `variant`: a (name, rgb) colour that the catalog says it also comes in and that the
    shopper prefers, when none of the photo's colours is one they prefer; else None."""

    product: Product
    score: float
    reasons: tuple
    colors: tuple
    variant: tuple | None = None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def garment_colors(product: Product) -> tuple:
    """[(name, rgb, share)] of a product's garment photo (TryOnError if it cannot be read)."""
    image = load_image(product.image, keep_alpha=True)
    return tuple((color_name(rgb), rgb, share) for rgb, share in dominant_colors(image.convert("RGB"), garment_mask(image)))


def exclusion(profile: Profile, product: Product) -> str | None:
    """Why a product is left out for this shopper (already bought, over/under budget, not in their size), or None."""
    if product.sku in profile.past_purchases:
        return "already bought"
    if profile.budget and product.price is not None:
        low, high = profile.budget
        if product.price > high:
            return "over your budget"
        if product.price < low:
            return "under your budget's minimum"
    sizes = product.tags(*SIZE_KEYS)
    if profile.size and sizes and profile.size.lower() not in sizes:
        return "not in your size"
    return None


def recommend(profile: Profile, products: list[Product], top_k: int = 3, *,
              diversity: float = 0.25) -> tuple[list[Pick], dict]:
    """The top `top_k` picks (maximal marginal relevance: score minus `diversity` x similarity to earlier picks)
    and {sku: why} for every product left out (excluded, or its garment photo unusable)."""
    excluded, candidates = {}, []
    for product in tqdm(products, desc="reading garment colours", disable=None, leave=False):
        why = exclusion(profile, product)
        if why is None:
            try:
                measured = garment_colors(product)
            except TryOnError as e:
                log.warning("%s: skipped: %s", product.sku, e)
                why = f"garment image unusable: {e}"
        if why:
            excluded[product.sku] = why
            continue
        candidates.append(_score(profile, product, measured))
    candidates.sort(key=lambda p: (-p.score, p.product.sku))
    picks = []
    while candidates and len(picks) < top_k:
        gains = [(1 - diversity) * c.score - diversity * max((_similarity(c, p) for p in picks), default=0.0)
                 for c in candidates]
        picks.append(candidates.pop(int(np.argmax(gains))))  # argmax keeps the first of equals: ranked order
    return picks, excluded


def _score(profile: Profile, product: Product, measured: tuple) -> Pick:
    reasons, score, variant = [], 0.0, None
    if profile.preferred_colors:
        affinity, phrase = _color_affinity(profile, measured)
        for label, rgb in [] if phrase else _offered_colors(product):
            alt, alt_phrase = _color_affinity(profile, ((label, rgb, 1.0),))
            if alt > affinity and alt_phrase:
                affinity, phrase, variant = alt, f"comes in {alt_phrase}", (label, rgb)
        score += WEIGHTS["color"] * affinity
        if phrase:
            reasons.append(phrase)
    if profile.categories and product.category in profile.categories:
        score += WEIGHTS["category"]
        reasons.append(f"{CATEGORY_WORDS[product.category]}, what you shop for")
    styles = set(product.tags(*STYLE_KEYS)) & set(profile.styles)
    if styles:
        score += WEIGHTS["style"]
        reasons.append(f"{', '.join(sorted(styles))}, your style")
    if profile.budget and product.price is not None:
        reasons.append("within your budget")
    return Pick(product, round(score, 6), tuple(reasons) or ("more from the catalog",), measured, variant)


def _offered_colors(product: Product) -> list:
    """The (label, rgb) colours a product's catalog row says it also comes in; unknown names are skipped."""
    offered = []
    for value in product.tags(*VARIANT_KEYS):
        try:
            offered.append(parse_color(value))
        except TryOnError:
            log.debug("%s: colour %r not recognised", product.sku, value)
    return offered


def _color_affinity(profile: Profile, measured) -> tuple[float, str]:
    """Share-weighted closeness of the garment's colours to the preferred ones, and the reason phrase for the
    largest garment colour that matches one (empty when none is close enough to name)."""
    preferred = rgb_to_lab(np.array([rgb for _, rgb in profile.preferred_colors]))
    affinity, phrase = 0.0, ""
    for name, rgb, share in measured:
        d = delta_e(rgb_to_lab(rgb), preferred)
        affinity += share * float(np.exp(-(d.min() / COLOR_SIGMA) ** 2))
        label = profile.preferred_colors[int(np.argmin(d))][0]
        if not phrase and share >= 0.15 and d.min() <= MATCH_DELTA_E:
            phrase = f"{name}, one of your colours" if label == name else f"{name}, close to your {label}"
    return affinity, phrase


def _similarity(a: Pick, b: Pick) -> float:
    """0-1: same category counts half, the main colours' closeness the other half."""
    d = float(delta_e(rgb_to_lab(a.colors[0][1]), rgb_to_lab(b.colors[0][1])))
    return 0.5 * (a.product.category == b.product.category) + 0.5 * float(np.exp(-(d / 20.0) ** 2))
