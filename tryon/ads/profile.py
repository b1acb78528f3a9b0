"""The shopper profile: a JSON object whose keys are all optional.

```json
{"name": "Ana", "preferred_colors": ["navy", "#c8102e"], "categories": ["upper"], "styles": ["casual"],
 "size": "M", "budget": [20, 80], "past_purchases": ["SKU-12"], "locale": "de_DE"}
```
"""
import difflib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from tryon.ads.colors import parse_color
from tryon.ads.text import check_locale
from tryon.errors import TryOnError
from tryon.products import normalize_category

KEYS = ("name", "preferred_colors", "categories", "styles", "size", "budget", "past_purchases", "locale")


@dataclass(frozen=True)
class Profile:
    """A validated shopper profile; `preferred_colors` holds (label, rgb) pairs, `budget` (min, max) or None."""

    name: str = ""
    preferred_colors: tuple = ()
    categories: tuple = ()
    styles: tuple = ()
    size: str = ""
    budget: tuple | None = None
    past_purchases: frozenset = frozenset()
    locale: str = "en_US"


def load_profile(source) -> Profile:
    """A Profile from a JSON file path or an already parsed dict; TryOnError names the file and the bad key."""
    where = "the profile"
    if isinstance(source, dict):
        data = source
    else:
        where = str(source)
        path = Path(source)
        if not path.is_file():
            raise TryOnError(f"{path}: profile not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise TryOnError(f"{path}: the profile is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise TryOnError(f"{where}: a profile is a JSON object such as {{\"name\": \"Ana\", \"budget\": [20, 80]}}")
    try:
        return _profile(data)
    except TryOnError as e:
        raise TryOnError(f"{where}: {e}") from None


def check_keys(data: dict, allowed) -> None:
    """TryOnError for the first key of `data` not in `allowed`, suggesting the closest allowed one."""
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; the keys are {', '.join(allowed)}"
            raise TryOnError(f"unknown key {key!r}{hint}")


def _profile(data: dict) -> Profile:
    check_keys(data, KEYS)
    return Profile(
        name=_text(data, "name"),
        preferred_colors=tuple(parse_color(c) for c in _strings(data, "preferred_colors")),
        categories=tuple(dict.fromkeys(normalize_category(c) for c in _strings(data, "categories"))),
        styles=tuple(dict.fromkeys(s.strip().lower() for s in _strings(data, "styles"))),
        size=_text(data, "size"),
        budget=_budget(data.get("budget")),
        past_purchases=frozenset(s.strip() for s in _strings(data, "past_purchases")),
        locale=check_locale(data.get("locale") or "en_US"),
    )


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise TryOnError(f"{key!r} must be text, not {value!r}")
    return str(value).strip()


def _strings(data: dict, key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise TryOnError(f"{key!r} must be a list of text values, not {value!r}")
    return [str(v) for v in value if str(v).strip()]


def _budget(value) -> tuple | None:
    if value is None:
        return None
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value))
    if not ok or value[0] < 0 or value[0] > value[1]:
        raise TryOnError(f"'budget' must be [min, max] with 0 <= min <= max, such as [20, 80], not {value!r}")
    return float(value[0]), float(value[1])
