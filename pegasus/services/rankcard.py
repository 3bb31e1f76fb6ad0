"""Rank cards: a PNG with the avatar, name, level, XP progress, rank and activity.

Pure Pillow on plain values (no Discord): the adapter fetches the avatar and background image
bytes (or passes None, which gives a placeholder) and runs `render_rank_card` in a thread, since
drawing takes a few milliseconds of CPU.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

WIDTH, HEIGHT = 934, 282
PADDING = 24
AVATAR_SIZE = 190
BAR_HEIGHT = 36
DEFAULT_BACKGROUND = 0x23272A
DEFAULT_ACCENT = 0x5865F2
PANEL_COLOUR = (0, 0, 0, 110)
TEXT = (255, 255, 255, 255)
MUTED_TEXT = (185, 187, 190, 255)
BAR_TRACK = (72, 75, 78, 255)
MAX_IMAGE_PIXELS = 4096 * 4096  # larger backgrounds are refused rather than decoded

FONT_CANDIDATES = {
    False: (
        "DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "Arial.ttf",
    ),
    True: (
        "DejaVuSans-Bold.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
        "Arial Bold.ttf",
    ),
}


@dataclass(frozen=True, slots=True)
class RankCard:
    """What a rank card shows."""

    name: str
    level: int
    rank: int | None  # None: not ranked yet
    xp_into_level: int
    xp_for_level: int
    total_xp: int
    messages: int
    voice_minutes: int
    accent: int | None = None  # 0xRRGGBB
    background_colour: int | None = None
    background_image: bytes | None = None
    avatar: bytes | None = None


def _rgb(value: int, alpha: int = 255) -> tuple[int, int, int, int]:
    return (value >> 16 & 0xFF, value >> 8 & 0xFF, value & 0xFF, alpha)


@cache
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A TrueType font with wide Unicode coverage when one is installed, else Pillow's own."""
    for candidate in FONT_CANDIDATES[bold]:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _open_image(data: bytes | None) -> Image.Image | None:
    """Decode image bytes; None when they are missing, not an image, or absurdly large."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_IMAGE_PIXELS:
                return None
            probe.load()
            return probe.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _background(card: RankCard) -> Image.Image:
    image = _open_image(card.background_image)
    if image is None:
        colour = DEFAULT_BACKGROUND if card.background_colour is None else card.background_colour
        return Image.new("RGBA", (WIDTH, HEIGHT), _rgb(colour))
    return ImageOps.fit(image, (WIDTH, HEIGHT), method=Image.Resampling.LANCZOS)


def _initial(name: str) -> str:
    stripped = name.strip()
    return stripped[0].upper() if stripped else "?"


def _avatar(card: RankCard, accent: int) -> Image.Image:
    """The avatar in a circle; a circle in the accent colour with the initial when unavailable."""
    size = AVATAR_SIZE
    image = _open_image(card.avatar)
    if image is None:
        image = Image.new("RGBA", (size, size), _rgb(accent))
        draw = ImageDraw.Draw(image)
        draw.text(
            (size / 2, size / 2), _initial(card.name), font=_font(90, True), fill=TEXT, anchor="mm"
        )
    else:
        image = ImageOps.fit(image, (size, size), method=Image.Resampling.LANCZOS)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size - 1, size - 1), fill=255)
    round_avatar = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    round_avatar.paste(image, (0, 0), mask)
    return round_avatar


def _fit_text(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    """`text`, shortened with an ellipsis until it fits `width` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def compact_number(value: int) -> str:
    """1234 → 1,234; 12_345 → 12.3K; 1_500_000 → 1.5M (the card has little room)."""
    if value < 10_000:
        return f"{value:,}"
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "K")):
        if value >= size:
            shown = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return f"{shown}{suffix}"
    return f"{value:,}"


def render_rank_card(card: RankCard) -> bytes:
    """The rank card as PNG bytes."""
    accent = card.accent if card.accent is not None else DEFAULT_ACCENT
    canvas = _background(card)
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    ImageDraw.Draw(overlay).rounded_rectangle(
        (PADDING / 2, PADDING / 2, WIDTH - PADDING / 2, HEIGHT - PADDING / 2),
        radius=24,
        fill=PANEL_COLOUR,
    )
    canvas = Image.alpha_composite(canvas, overlay)

    avatar_top = (HEIGHT - AVATAR_SIZE) // 2
    canvas.alpha_composite(_avatar(card, accent), (PADDING + 12, avatar_top))
    draw = ImageDraw.Draw(canvas)
    ring = (PADDING + 8, avatar_top - 4, PADDING + 16 + AVATAR_SIZE, avatar_top + AVATAR_SIZE + 4)
    draw.ellipse(ring, outline=_rgb(accent), width=5)

    left = PADDING + AVATAR_SIZE + 52
    right = WIDTH - PADDING - 16
    _draw_header(draw, card, accent, left, right)
    _draw_name_and_progress(draw, card, accent, left, right)
    stats = (
        f"{card.messages:,} messages  ·  {card.voice_minutes:,} voice minutes  ·  "
        f"{compact_number(card.total_xp)} XP in total"
    )
    stats_font = _font(20)
    stats = _fit_text(stats, stats_font, right - left)
    draw.text((left, 222), stats, font=stats_font, fill=MUTED_TEXT)

    out = io.BytesIO()
    canvas.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def _draw_header(
    draw: ImageDraw.ImageDraw, card: RankCard, accent: int, left: int, right: int
) -> None:
    """RANK #n and LEVEL n, right-aligned on the top line."""
    big, small = _font(44, True), _font(22)
    x = right
    parts = [
        ("RANK", f"#{card.rank:,}" if card.rank else "—", TEXT),
        ("LEVEL", f"{card.level:,}", _rgb(accent)),
    ]
    for label, value, colour in reversed(parts):
        draw.text((x, 58), value, font=big, fill=colour, anchor="rs")
        x -= int(big.getlength(value)) + 8
        draw.text((x, 58), label, font=small, fill=MUTED_TEXT, anchor="rs")
        x -= int(small.getlength(label)) + 28


def _draw_name_and_progress(
    draw: ImageDraw.ImageDraw, card: RankCard, accent: int, left: int, right: int
) -> None:
    needed = max(card.xp_for_level, 1)
    into = min(max(card.xp_into_level, 0), needed)
    label = f"{compact_number(into)} / {compact_number(needed)} XP"
    label_font, name_font = _font(24), _font(36, True)
    draw.text((right, 138), label, font=label_font, fill=MUTED_TEXT, anchor="rs")
    room = right - left - int(label_font.getlength(label)) - 24
    name = _fit_text(card.name, name_font, max(room, 60))
    draw.text((left, 138), name, font=name_font, fill=TEXT, anchor="ls")
    top = 156
    bar = (left, top, right, top + BAR_HEIGHT)
    draw.rounded_rectangle(bar, radius=BAR_HEIGHT // 2, fill=BAR_TRACK)
    filled = int((right - left) * into / needed)
    if filled >= BAR_HEIGHT:  # narrower than its own rounding it would look broken
        draw.rounded_rectangle(
            (left, top, left + filled, top + BAR_HEIGHT), radius=BAR_HEIGHT // 2, fill=_rgb(accent)
        )
