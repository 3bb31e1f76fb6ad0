"""Rank cards: a PNG of the expected size, colours as chosen, placeholders for bad images, and
background images bounded in cost and prepared once."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from pegasus.errors import ValidationError
from pegasus.services.levels import (
    HEIGHT,
    WIDTH,
    BackgroundCache,
    RankCard,
    compact_number,
    prepare_background,
    render_rank_card,
)
from tests.image_hosts import grey_png, jpeg


def png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def card(**kwargs) -> RankCard:
    values = dict(
        name="Alice",
        level=3,
        rank=2,
        xp_into_level=150,
        xp_for_level=295,
        total_xp=625,
        messages=1_024,
        voice_minutes=75,
    )
    values.update(kwargs)
    return RankCard(**values)


def decode(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_card_uses_the_chosen_colours() -> None:
    image = decode(render_rank_card(card(accent=0x00FF00, background_colour=0x0000FF)))
    assert image.size == (WIDTH, HEIGHT)
    assert image.getpixel((2, 2)) == (0, 0, 255)  # the border shows the background as is
    bar_y = 156 + 18
    left = 24 + 190 + 52
    assert image.getpixel((left + 20, bar_y)) == (0, 255, 0)  # filled part of the bar
    assert image.getpixel((WIDTH - 60, bar_y)) != (0, 255, 0)  # about half full only


def test_avatar_and_background_images_are_drawn() -> None:
    image = decode(
        render_rank_card(
            card(avatar=png((64, 64), (255, 0, 0)), background_image=png((300, 100), (0, 128, 0)))
        )
    )
    assert image.getpixel((2, 2)) == (0, 128, 0)
    centre = (24 + 12 + 95, HEIGHT // 2)
    assert image.getpixel(centre) == (255, 0, 0)


def test_unreadable_images_give_placeholders() -> None:
    image = decode(render_rank_card(card(avatar=b"not an image", background_image=b"\x00" * 10)))
    centre_ring = image.getpixel((24 + 12 + 20, HEIGHT // 2))
    assert centre_ring == (0x58, 0x65, 0xF2)  # the placeholder is a disc in the default accent


def test_huge_backgrounds_are_refused_not_decoded() -> None:
    huge = png((5000, 4000), (255, 255, 0))
    image = decode(render_rank_card(card(background_image=huge, background_colour=0x101010)))
    assert image.getpixel((2, 2)) == (0x10, 0x10, 0x10)


def test_long_names_and_big_numbers_fit() -> None:
    data = render_rank_card(
        card(name="N" * 300, rank=None, level=9_999, xp_into_level=10**9, xp_for_level=10**9)
    )
    assert decode(data).size == (WIDTH, HEIGHT)
    assert compact_number(9_999) == "9,999"
    assert compact_number(12_345) == "12.3K"
    assert compact_number(1_500_000) == "1.5M"
    assert compact_number(2_000_000_000) == "2B"


# ------------------------------------------------------------------------------ image budget

DARK = 0x101010


def background_pixel(background: bytes) -> tuple[int, int, int]:
    """The card's corner, where the background shows as is."""
    rendered = render_rank_card(card(background_image=background, background_colour=DARK))
    return decode(rendered).getpixel((2, 2))


def test_a_4096_square_png_is_refused_without_being_decoded() -> None:
    bomb = grey_png(4096, 4096, 200)  # 25 KB that would decode to 16.7 million pixels
    with pytest.raises(ValidationError, match="4,096×4,096 pixels, more than a card can use"):
        prepare_background(bomb)
    assert background_pixel(bomb) == (0x10, 0x10, 0x10)  # the colour, not the image


def test_a_one_pixel_wide_strip_is_refused_without_being_decoded() -> None:
    strip = grey_png(1, 16_777_216, 255)
    with pytest.raises(ValidationError, match="1×16,777,216 pixels, too narrow or too tall"):
        prepare_background(strip)
    assert background_pixel(strip) == (0x10, 0x10, 0x10)


def test_extreme_shapes_are_refused_even_when_small() -> None:
    with pytest.raises(ValidationError, match="2,000×10 pixels, too narrow or too tall"):
        prepare_background(grey_png(2000, 10, 255))
    assert prepare_background(grey_png(800, 100, 255)).size == (WIDTH, HEIGHT)  # 8:1 still fits


def test_big_jpegs_are_decoded_at_a_reduced_scale_big_pngs_refused() -> None:
    photo = prepare_background(jpeg((3840, 2160), (0, 0, 255)))
    assert photo.size == (WIDTH, HEIGHT) and photo.mode == "RGBA"
    red, green, blue, _ = photo.getpixel((WIDTH // 2, HEIGHT // 2))
    assert blue > 240 and red < 15 and green < 15
    with pytest.raises(ValidationError, match="3840×2160 for a JPEG"):
        prepare_background(grey_png(3840, 2160, 9))
    with pytest.raises(ValidationError, match="7,680×4,320 pixels"):
        prepare_background(jpeg((7680, 4320), (0, 0, 255)))


def test_only_common_web_formats_are_decoded() -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 100), (255, 0, 0)).save(out, format="BMP")
    with pytest.raises(ValidationError, match="PNG, JPEG, GIF or WebP"):
        prepare_background(out.getvalue())
    with pytest.raises(ValidationError, match="damaged or incomplete"):
        prepare_background(grey_png(300, 100, 7)[:-40])


class Host:
    """Where the cache downloads from: serves the same bytes and counts the downloads."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.downloads = 0

    async def fetch(self, url: str) -> bytes:
        self.downloads += 1
        return self.data


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_background_is_downloaded_and_decoded_once() -> None:
    host = Host(grey_png(300, 100, 90))
    cache = BackgroundCache()
    first = await cache.get("https://images.test/a.png", host.fetch)
    again = await cache.get("https://images.test/a.png", host.fetch)
    assert again is first and first.size == (WIDTH, HEIGHT)
    assert (host.downloads, cache.decodes, cache.hits) == (1, 1, 1)
    drawn = decode(render_rank_card(card(prepared_background=again)))
    assert drawn.getpixel((2, 2)) == (90, 90, 90)
    assert first.getpixel((WIDTH // 2, HEIGHT // 2)) == (90, 90, 90, 255)  # not drawn on

    await cache.get("https://images.test/a.png", host.fetch, fresh=True)  # set anew: reloaded
    assert (host.downloads, cache.decodes) == (2, 2)


async def test_refusals_are_kept_briefly_and_the_cache_is_bounded() -> None:
    clock = Clock()
    bomb, fine = Host(grey_png(4096, 4096, 1)), Host(grey_png(30, 10, 2))
    cache = BackgroundCache(capacity=2, ttl=3600, refusal_ttl=60, clock=clock)
    for _ in range(2):
        with pytest.raises(ValidationError, match="4,096×4,096"):
            await cache.get("https://images.test/bomb.png", bomb.fetch)
    assert bomb.downloads == 1
    clock.now += 61
    with pytest.raises(ValidationError, match="4,096×4,096"):
        await cache.get("https://images.test/bomb.png", bomb.fetch)
    assert bomb.downloads == 2

    for name in ("a", "b", "c"):
        await cache.get(f"https://images.test/{name}.png", fine.fetch)
    assert len(cache) == 2 and fine.downloads == 3
    await cache.get("https://images.test/c.png", fine.fetch)  # kept: most recent
    await cache.get("https://images.test/a.png", fine.fetch)  # evicted: downloaded again
    assert fine.downloads == 4
    clock.now += 3601
    await cache.get("https://images.test/a.png", fine.fetch)  # expired
    assert fine.downloads == 5
