"""Rank cards: a PNG of the expected size, colours as chosen, placeholders for bad images."""

from __future__ import annotations

import io

from PIL import Image

from pegasus.services.rankcard import (
    HEIGHT,
    WIDTH,
    RankCard,
    compact_number,
    render_rank_card,
)


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
