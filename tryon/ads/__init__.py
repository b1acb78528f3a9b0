"""Personalized ad creatives: shopper profiles, garment colours, recommendations, colour variants and layouts."""

from tryon.ads.creatives import make_ads
from tryon.ads.layout import FORMATS, Brand, load_brand
from tryon.ads.profile import Profile, load_profile
from tryon.ads.recolor import recolor
from tryon.ads.recommend import Pick, recommend

__all__ = ["make_ads", "FORMATS", "Brand", "load_brand", "Profile", "load_profile", "recolor", "Pick", "recommend"]
