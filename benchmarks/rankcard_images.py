"""What a rank card background costs in CPU: preparing it once, refusing what is too large, and a
card drawn from the prepared copy, each against a card with a plain colour (the baseline).

    python benchmarks/rankcard_images.py            # 5 runs of each, medians
    python benchmarks/rankcard_images.py --runs 1   # quick look

Figures are process CPU time (`time.process_time`), medians over the runs. The worst cases are
images of random noise, which compress worst and so decode slowest. The budget is about 50 ms of
CPU for the first card with a new background and close to the baseline for every card after it.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pegasus.errors import ValidationError
from pegasus.services.levels import RankCard, prepare_background, render_rank_card
from tests.image_hosts import grey_png


def noise(size: tuple[int, int], format: str) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 80).convert("RGB").save(out, format=format)
    return out.getvalue()


def structured(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    mandelbrot = Image.effect_mandelbrot(size, (-2.2, -1.2, 1.0, 1.2), 100)
    Image.merge("RGB", (mandelbrot, mandelbrot.rotate(180), mandelbrot)).save(out, format="PNG")
    return out.getvalue()


def card(**kwargs: object) -> RankCard:
    values: dict[str, object] = dict(
        name="Alice", level=3, rank=2, xp_into_level=150, xp_for_level=295, total_xp=625,
        messages=1_024, voice_minutes=75, background_colour=0x202225,
    )
    values.update(kwargs)
    return RankCard(**values)  # type: ignore[arg-type]


def cpu_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.process_time()
        try:
            action()
        except ValidationError:
            pass  # refused: what it cost to refuse is the figure
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs

    baseline = cpu_ms(lambda: render_rank_card(card()), runs)
    prepared = prepare_background(noise((1920, 1080), "PNG"))
    cases: list[tuple[str, Callable[[], object]]] = [
        ("card from a prepared background", lambda: render_rank_card(
            card(prepared_background=prepared))),
    ]
    for label, data in (
        ("1920x1080 PNG of a Mandelbrot set (structured, like most pictures)",
         structured((1920, 1080))),
        ("1920x1080 PNG of noise (largest PNG accepted)", noise((1920, 1080), "PNG")),
        ("3840x2160 JPEG of noise (decoded at 1/2 scale)", noise((3840, 2160), "JPEG")),
        ("4096x4096 PNG, 25 KB (refused from its header)", grey_png(4096, 4096, 200)),
        ("1x16,777,216 PNG (refused from its header)", grey_png(1, 16_777_216, 255)),
    ):
        cases.append((f"first card: {label}", lambda data=data: render_rank_card(
            card(prepared_background=_prepared_or_none(data)))))

    print(f"plain card (baseline): {baseline:.1f} ms CPU")
    for label, action in cases:
        cost = cpu_ms(action, runs)
        print(f"{label}: {cost:.1f} ms CPU, {cost / baseline:.1f}x the baseline")


def _prepared_or_none(data: bytes) -> Image.Image | None:
    try:
        return prepare_background(data)
    except ValidationError:
        return None


if __name__ == "__main__":
    main()
