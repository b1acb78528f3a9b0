#!/usr/bin/env python3
"""The app's speed on this CPU, beside the reference pix2pix U-Net forward timed in the same run.

Prints JSON: live mode (tryon.live.LiveTryOn, what the Live tab runs per webcam frame, on a 640x480 synthetic
person frame sequence, the person stepping sideways a little each frame): median seconds per frame and frames/s,
how many frames were key frames (parse and warp run; the others reuse them, see tryon.live), the median key frame's
seconds, and the rate when every frame is a key frame (a shopper who never stands still); the same
sequence as the webcam of headless Chromium (a fake capture device) on the Live tab of the running app: try-ons
shown per second; /tryon through the app (gradio_client, one call at a time, a 512x384 photo): median seconds; 16
concurrent /tryon calls: wall seconds; and each time as a ratio to the reference forward
(../shared/bench/ref_step.py), which runs in a worker thread like everything timed here (the app's handlers do; on
a busy 2-core machine torch's two OpenMP threads are several times slower in the main thread). Uses the default
weights in weights/ when there are some, otherwise random-init models of the default config (the same compute).
Usage: scripts/bench_app.py [--threads 2] [--frames 20] [--calls 5] [--browser-seconds 30] [--weights DIR]
"""
import argparse
import contextlib
import json
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tryon.app import EXAMPLES, build_app, launch, load_content
from tryon.data.synthetic import make_sample
from tryon.live import STILL_PX, LiveTryOn
from tryon.pipeline import DEFAULT_WEIGHTS, TryOnPipeline

REPO = Path(__file__).resolve().parents[1]
REF = REPO.parent / "shared" / "bench"
PERSON_SEED = 3  # a synthetic person that mediapipe finds
GARMENT = EXAMPLES / "garments" / "tee-stripe.jpg"


def frames(n: int) -> list[Image.Image]:
    """A 640x480 webcam-like sequence: a 480x360 synthetic person stepping sideways over a plain background."""
    person = make_sample(np.random.default_rng(PERSON_SEED), (480, 360)).person
    background = tuple(int(c) for c in person[0, 0])
    out = []
    for i in range(n):
        frame = Image.new("RGB", (640, 480), background)
        frame.paste(Image.fromarray(person), (120 + 8 * (i % 10), 0))
        out.append(frame)
    return out


def write_y4m(path: Path, images: list[Image.Image], fps: int = 10) -> Path:
    """A YUV4MPEG2 video (4:2:0), what Chromium's fake webcam plays in a loop."""
    w, h = images[0].size
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for image in images:
            y, u, v = image.convert("YCbCr").split()
            chroma = [plane.resize((w // 2, h // 2)).tobytes() for plane in (u, v)]
            f.write(b"FRAME\n" + y.tobytes() + b"".join(chroma))
    return path


def bench_browser_live(url: str, seconds: float) -> dict:
    """Try-ons shown per second on the Live tab, the webcam being `frames()` played by a fake capture device."""
    from playwright.sync_api import sync_playwright

    video = write_y4m(Path(tempfile.mkdtemp()) / "webcam.y4m", frames(20))
    args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(tempfile.mkdtemp(), executable_path="/usr/bin/chromium",
                                                        headless=True, args=args)
        page = browser.new_page()
        page.goto(url)
        page.locator("#catalog button.thumbnail-item").first.click()
        page.get_by_role("tab", name="Live").click()
        page.locator("#camera button").filter(has_text="Click to Access Webcam").click()
        page.click("#camera button.capture-button")
        page.wait_for_function("document.querySelector('#live img')", timeout=120_000)  # the first one
        shown, last, start = 0, None, time.perf_counter()
        while time.perf_counter() - start < seconds:
            src = page.evaluate("document.querySelector('#live img').src")
            shown, last = shown + (src != last), src
            page.wait_for_timeout(20)
        status = page.locator("#live-status").inner_text()
        browser.close()
    return {"browser_frames_per_s": round((shown - 1) / seconds, 2),
            "browser_status": status.strip().splitlines()[-1]}  # the page's own report, under gradio's timer


def bench_live(pipe, n: int) -> dict:
    """LiveTryOn on `frames(n)` after two warm-up frames, as the Live tab runs it, and again with every frame a key
    frame; in a worker thread as the app runs its handlers (on a busy 2-core machine, torch is several times slower
    in the main thread than in another thread)."""
    def run(still_px: float) -> tuple[list[float], list[bool]]:
        live, seconds, keys = LiveTryOn(pipe, still_px=still_px), [], []
        for i, frame in enumerate(frames(n + 2)):
            start, key_frames = time.perf_counter(), live.key_frames
            out = live(frame, GARMENT, "upper")
            if not out.tried_on:
                raise SystemExit(f"frame {i}: {out.status}")
            seconds.append(time.perf_counter() - start)
            keys.append(live.key_frames > key_frames)
        return seconds[2:], keys[2:]

    with ThreadPoolExecutor(1) as pool:
        (seconds, keys), (every, _) = pool.submit(run, STILL_PX).result(), pool.submit(run, 0.0).result()
    median = statistics.median(seconds)
    return {"seconds_per_frame": round(median, 4), "frames_per_s": round(1 / median, 2),
            "key_frames": sum(keys), "key_frame_s": round(statistics.median(every), 4),
            "frames_per_s_every_frame_key": round(1 / statistics.median(every), 2)}


def bench_app(pipe, calls: int, browser_seconds: float) -> dict:
    from gradio_client import Client, handle_file

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_app(pipe, *load_content())
    with contextlib.redirect_stdout(sys.stderr):  # gradio's start-up lines: stdout is for the JSON
        launch(demo, port=port)
    try:
        photo = Path(tempfile.mkdtemp()) / "person.png"
        Image.fromarray(make_sample(np.random.default_rng(PERSON_SEED), (512, 384)).person).save(photo)
        client = Client(f"http://127.0.0.1:{port}/", download_files=tempfile.mkdtemp(), verbose=False,
                        analytics_enabled=False)
        call = lambda _=None: client.predict(handle_file(photo), handle_file(GARMENT), "upper", api_name="/tryon")
        call()  # warm-up
        seconds = []
        for _ in range(calls):
            start = time.perf_counter()
            call()
            seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            done = list(pool.map(call, range(16)))
        concurrent = time.perf_counter() - start
        assert len(done) == 16
        live = bench_browser_live(f"http://127.0.0.1:{port}/", browser_seconds) if browser_seconds else {}
    finally:
        with contextlib.redirect_stdout(sys.stderr):
            demo.close()
    return {"tryon_call_s": round(statistics.median(seconds), 4), "concurrent_16_wall_s": round(concurrent, 2), **live}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--browser-seconds", type=float, default=30, help="0: skip the browser's live mode")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    trained = (Path(a.weights) / "model_index.json").is_file()
    pipe = TryOnPipeline.from_pretrained(a.weights) if trained else TryOnPipeline.untrained()

    seconds = {**bench_live(pipe, a.frames), **bench_app(pipe, a.calls, a.browser_seconds)}
    result = {"weights": a.weights if trained else "random init (default config)", "threads": a.threads,
              "live_frame": "640x480", "tryon_photo": "512x384", "frames": a.frames, "calls": a.calls, **seconds}
    if (REF / "ref_step.py").is_file():
        sys.path.insert(0, str(REF))
        from ref_step import time_reference

        with ThreadPoolExecutor(1) as pool:  # in a worker thread, as the times above were taken
            ref = pool.submit(time_reference, threads=a.threads).result()
        result["reference"] = ref
        result["ratio_to_ref_forward"] = {k: round(seconds[k] / ref["ref_forward_s"], 2)
                                          for k in ("seconds_per_frame", "key_frame_s", "tryon_call_s",
                                                    "concurrent_16_wall_s")}
    else:
        result["reference"] = f"skipped: {REF / 'ref_step.py'} not found"
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
