"""Rank cards: a PNG with the avatar, name, level, XP progress, rank and activity, and the
colours and background each member chooses for theirs.

Pure Pillow on plain values (no Discord): the adapter fetches the avatar and background image
bytes (or passes None, which gives a placeholder) and runs `render_rank_card` in a thread, since
drawing takes a few milliseconds of CPU.

Images come from links anyone can set, so their size is read from the header before anything is
decoded: too many pixels or an extreme shape is refused with the reason, and JPEGs are decoded at
a reduced scale when the card needs fewer pixels. That bounds one background to a few tens of
milliseconds of CPU; `BackgroundCache` keeps the prepared (fitted) background, so showing a card
again costs no download and no decoding.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlparse

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from models.guilds import User
from pegasus import notify
from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import _, current_locale, format_number, ngettext
from pegasus.services import directory
from pegasus.services.colours import COLOUR_FORMS, NAMED_COLOURS, format_colour, parse_colour

__all__ = [
    "COLOUR_FORMS",
    "DEFAULT_ACCENT",
    "DEFAULT_BACKGROUND",
    "HEIGHT",
    "MAX_DECODED_PIXELS",
    "MAX_SOURCE_PIXELS",
    "NAMED_COLOURS",
    "WIDTH",
    "BackgroundCache",
    "RankCard",
    "background_colour",
    "compact_number",
    "format_colour",
    "parse_background",
    "parse_colour",
    "prepare_background",
    "render_rank_card",
    "reset_rank_card",
    "set_rank_card",
]

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
# What one image may cost. Decoding and fitting a 1920×1080 PNG takes 25-40 ms of CPU (see
# benchmarks/rankcard_images.py); a JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still covers
# the card, so a larger one decodes to no more pixels.
MAX_DECODED_PIXELS = 1920 * 1080
MAX_SOURCE_PIXELS = 3840 * 2160  # even at a reduced scale, a JPEG's whole data is decompressed
MAX_ASPECT_RATIO = 8  # the card is 3.3 times as wide as tall; 1×16,777,216 is no background
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")  # no other decoder sees a stranger's bytes

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
    prepared_background: Image.Image | None = None  # from `prepare_background`; wins over bytes


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


def _centre_crop(size: tuple[int, int], target: tuple[int, int]) -> tuple[float, ...]:
    """The largest box of `target`'s shape in the middle of an image of `size`."""
    width, height = size
    ratio = target[0] / target[1]
    if width / height > ratio:
        kept = height * ratio
        return ((width - kept) / 2, 0, (width + kept) / 2, height)
    kept = width / ratio
    return (0, (height - kept) / 2, width, (height + kept) / 2)


def _pixels(size: tuple[int, int]) -> str:
    return _("{width}×{height} pixels").format(
        width=format_number(size[0]), height=format_number(size[1])
    )


def _check_shape(size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1 or max(width / height, height / width) > MAX_ASPECT_RATIO:
        raise ValidationError(
            _(
                "That image is {size}, too narrow or too tall for a card: use one at most "
                "{ratio} times as wide as it is tall (or as tall as it is wide)."
            ).format(size=_pixels(size), ratio=format_number(MAX_ASPECT_RATIO))
        )
    if width * height > MAX_SOURCE_PIXELS:
        raise _too_many_pixels(size)


def _too_many_pixels(size: tuple[int, int]) -> ValidationError:
    return ValidationError(
        _(
            "That image is {size}, more than a card can use: use one of at most "
            "1920×1080 pixels (3840×2160 for a JPEG)."
        ).format(size=_pixels(size))
    )


@contextmanager
def _bounded_image(data: bytes, target: tuple[int, int]) -> Iterator[Image.Image]:
    """The decoded image, at a reduced scale when that still covers `target`; ValidationError when
    it is not an image or would cost more than the budget. Only the header is read before the
    checks."""
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            _check_shape(image.size)
            source_size = image.size
            image.draft(image.mode, target)  # only JPEG supports this; others keep their size
            if image.width * image.height > MAX_DECODED_PIXELS:
                raise _too_many_pixels(source_size)
            image.load()
            yield image
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ValidationError(
            _(
                "That link does not lead to a PNG, JPEG, GIF or WebP image: link to the image "
                "itself."
            )
        ) from None
    except (OSError, ValueError, EOFError, SyntaxError):
        raise ValidationError(
            _("That image could not be read: it is damaged or incomplete.")
        ) from None


def _fitted(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` cropped to the shape of `size` around its centre and resized to it, as RGBA."""
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA")
    # reducing_gap: shrink by whole factors first (cheap), then resample the rest. BICUBIC rather
    # than LANCZOS: a third less CPU on a 1920×1080 image, no visible difference behind the panel.
    fitted = image.resize(
        size, Image.Resampling.BICUBIC, box=_centre_crop(image.size, size), reducing_gap=2.0
    )
    return fitted.convert("RGBA")


def prepare_background(data: bytes, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """The image fitted to the card (RGBA, `size`); ValidationError with the reason when refused."""
    with _bounded_image(data, size) as image:
        try:
            return _fitted(image, size)
        except (OSError, ValueError) as error:  # such as a mode Pillow cannot convert
            raise ValidationError(
                _("That image could not be read: use a PNG or JPEG in ordinary colours.")
            ) from error


# A prepared background, or a refusal as (language, text).
_Kept = Image.Image | tuple[str, str]


class BackgroundCache:
    """Prepared backgrounds by link and size, the `capacity` most recently used kept (about 1 MB
    each), so showing a card again neither downloads nor decodes its background.

    A refusal (too large, not found, not an image) is kept too, for a shorter while and in the
    language it was given in (another language downloads again), so a bad link is not downloaded
    again by every card; a good one is kept for `ttl`, after which a changed
    image shows. `hits` and `decodes` count what the cache saved and what it cost.
    """

    def __init__(
        self,
        capacity: int = 32,
        ttl: float = 3600.0,
        refusal_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._ttl = ttl
        self._refusal_ttl = refusal_ttl
        self._clock = clock
        self._entries: OrderedDict[tuple[str, tuple[int, int]], tuple[float, _Kept]]
        self._entries = OrderedDict()
        self.hits = 0
        self.decodes = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(
        self,
        url: str,
        fetch: Callable[[str], Awaitable[bytes]],
        size: tuple[int, int] = (WIDTH, HEIGHT),
        *,
        fresh: bool = False,
    ) -> Image.Image:
        """The prepared background at `url` (never to be drawn on); ValidationError when refused.

        `fresh` downloads again even when a copy is kept (a member setting the link anew)."""
        key = (url, size)
        entry = self._entries.get(key)
        if not fresh and entry is not None and entry[0] > self._clock() and _usable(entry[1]):
            self._entries.move_to_end(key)
            self.hits += 1
            return _kept(entry[1])
        try:
            data = await fetch(url)
            self.decodes += 1
            prepared = await asyncio.to_thread(prepare_background, data, size)
        except ValidationError as refusal:
            self._keep(key, (current_locale(), refusal.message), self._refusal_ttl)
            raise
        self._keep(key, prepared, self._ttl)
        return prepared

    def _keep(self, key: tuple[str, tuple[int, int]], value: _Kept, ttl: float) -> None:
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


def _usable(value: _Kept) -> bool:
    """A kept image always; a kept refusal when it is in the language asked for."""
    return not isinstance(value, tuple) or value[0] == current_locale()


def _kept(value: _Kept) -> Image.Image:
    if isinstance(value, tuple):
        # A fresh error each time: a kept one would grow its traceback.
        raise ValidationError(value[1])
    return value


def _open_fitted(data: bytes | None, size: tuple[int, int]) -> Image.Image | None:
    """`data` fitted to `size`; None when missing or refused (the card draws a placeholder)."""
    if not data:
        return None
    try:
        return prepare_background(data, size)
    except ValidationError:
        return None


def _background(card: RankCard) -> Image.Image:
    if card.prepared_background is not None:
        return card.prepared_background.copy()  # shared with the cache: never drawn on
    image = _open_fitted(card.background_image, (WIDTH, HEIGHT))
    if image is None:
        colour = DEFAULT_BACKGROUND if card.background_colour is None else card.background_colour
        return Image.new("RGBA", (WIDTH, HEIGHT), _rgb(colour))
    return image


def _initial(name: str) -> str:
    stripped = name.strip()
    return stripped[0].upper() if stripped else "?"


def _avatar(card: RankCard, accent: int) -> Image.Image:
    """The avatar in a circle; a circle in the accent colour with the initial when unavailable."""
    size = AVATAR_SIZE
    image = _open_fitted(card.avatar, (size, size))
    if image is None:
        image = Image.new("RGBA", (size, size), _rgb(accent))
        draw = ImageDraw.Draw(image)
        draw.text(
            (size / 2, size / 2), _initial(card.name), font=_font(90, True), fill=TEXT, anchor="mm"
        )
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
        return format_number(value)
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "K")):
        if value >= size:
            shown = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return f"{format_number(float(shown))}{suffix}"
    return format_number(value)


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
    stats = "  ·  ".join(
        (
            ngettext("{count} message", "{count} messages", card.messages).format(
                count=format_number(card.messages)
            ),
            ngettext("{count} voice minute", "{count} voice minutes", card.voice_minutes).format(
                count=format_number(card.voice_minutes)
            ),
            _("{xp} XP in total").format(xp=compact_number(card.total_xp)),
        )
    )
    stats_font = _font(20)
    stats = _fit_text(stats, stats_font, right - left)
    draw.text((left, 222), stats, font=stats_font, fill=MUTED_TEXT)

    out = io.BytesIO()
    # The fastest zlib level: `optimize` spent 35 ms of a 40 ms card on a few KB (and on a photo
    # background level 1 is even smaller than the default).
    canvas.convert("RGB").save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _draw_header(
    draw: ImageDraw.ImageDraw, card: RankCard, accent: int, left: int, right: int
) -> None:
    """RANK #n and LEVEL n, right-aligned on the top line."""
    big, small = _font(44, True), _font(22)
    x = right
    parts = [
        # Translators: a label on the rank card image, in capitals there.
        (_("RANK"), f"#{format_number(card.rank)}" if card.rank else "—", TEXT),
        # Translators: a label on the rank card image, in capitals there.
        (_("LEVEL"), format_number(card.level), _rgb(accent)),
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
    label = _("{current} / {needed} XP").format(
        current=compact_number(into), needed=compact_number(needed)
    )
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


# --------------------------------------------------------------------------- a member's style


def parse_background(text: str) -> str:
    """A background is a colour (stored as #RRGGBB) or an https:// image URL."""
    cleaned = text.strip()
    if cleaned.lower().startswith("http://"):
        raise ValidationError(_("Image links must be secure: use an https:// link."))
    if cleaned.lower().startswith("https://"):
        try:
            hostname = urlparse(cleaned).hostname
        except ValueError:  # such as an unclosed IPv6 bracket: `https://[`
            hostname = None
        if not hostname or len(cleaned) > 1024 or any(ch.isspace() for ch in cleaned):
            raise ValidationError(_("That image URL is not valid: use a full https:// link."))
        return cleaned
    try:
        return format_colour(parse_colour(cleaned))
    except ValidationError:
        raise ValidationError(
            _(
                "{text} is neither a colour nor an image URL: use {colours}, or an https:// link "
                "to an image."
            ).format(text=shown_input(text), colours=_(COLOUR_FORMS))
        ) from None


def background_colour(background: str | None) -> int | None:
    """The colour of a stored background, or None when it is an image URL or unset."""
    if background and background.startswith("#"):
        return parse_colour(background)
    return None


async def set_rank_card(
    user_id: int, *, background: str | None = None, accent: str | None = None
) -> tuple[str | None, int | None]:
    """Store the member's rank card colours (only the given ones); returns the stored pair."""
    if background is None and accent is None:
        raise ValidationError(_("Give a background, an accent colour or both."))
    changes: dict[str, Any] = {}
    if background is not None:
        changes["rank_card_background"] = parse_background(background)
    if accent is not None:
        changes["rank_card_accent"] = parse_colour(accent)
    await directory.ensure_user(user_id)
    await User.filter(id=user_id).update(**changes)
    stored = await User.filter(id=user_id).values_list(
        "rank_card_background", "rank_card_accent"
    )
    await _announce_card_change()
    return stored[0]


async def reset_rank_card(user_id: int) -> None:
    await User.filter(id=user_id).update(rank_card_background=None, rank_card_accent=None)
    await _announce_card_change()


async def _announce_card_change() -> None:
    """Ranks kept by the REST API show the card's colours: a card is the member's in every
    guild, so every guild's kept ranks are dropped."""
    await notify.announce(notify.Topic.XP)

