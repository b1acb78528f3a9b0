#!/usr/bin/env python3
"""The README's screenshots of the app with a real try-on, in docs/ (PNG, each under 300 KB):
app.png (the first screen, after a try-on), app-explain.png (the Explain panel) and app-creatives.png (the ad
creatives made from that try-on).

Starts the app on the given weights, opens it in headless Chromium (Debian's /usr/bin/chromium), picks an example
photo and a catalog garment, tries on with Explain on, then makes the creatives.
Usage: scripts/app_screenshot.py [--weights DIR] [--out docs] [--person 1] [--garment 4]
"""
import argparse
import io
import socket
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from tryon.app import build_app, launch, load_content
from tryon.pipeline import load_pipeline

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
MAX_BYTES = 300_000


def save(png: bytes, path: Path) -> None:
    """A screenshot as a PNG under MAX_BYTES: a UI is mostly flat colour, so 256 colours look the same."""
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    shot.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        shot.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"{path} ({path.stat().st_size // 1000} KB)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", help="a saved pipeline folder (default: the repository's weights/)")
    p.add_argument("--out", type=Path, default=REPO / "docs")
    p.add_argument("--person", type=int, default=1, help="which example photo (1-based)")
    p.add_argument("--garment", type=int, default=4, help="which catalog garment (1-based)")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    demo = build_app(load_pipeline(a.weights), *load_content())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch(demo, port=port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                tempfile.mkdtemp(), executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900})
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator("#examples button").nth(a.person - 1).click()
            page.locator("#catalog button.thumbnail-item").nth(a.garment - 1).click()
            page.wait_for_selector("#person img")
            page.wait_for_selector("#garment img")
            page.click("#explain input")
            page.click("#tryon-button")
            page.wait_for_function("document.querySelectorAll('#steps img').length == 8", timeout=120_000)
            page.wait_for_timeout(1000)  # let the images finish fading in
            page.evaluate("window.scrollTo(0, 0)")
            save(page.screenshot(), a.out / "app.png")
            save(page.locator("#explain-panel").screenshot(), a.out / "app-explain.png")
            page.get_by_role("tab", name="Ad creatives").click()
            page.locator("#shopper textarea, #shopper input").first.fill("Ana")
            page.click("#ad-button")
            page.wait_for_function("document.querySelectorAll('#creatives img').length == 5", timeout=120_000)
            page.wait_for_timeout(1000)
            save(page.screenshot(full_page=True), a.out / "app-creatives.png")
            browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
