"""The README's pictures are in the repository (a moved or missing file shows as a broken image)."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def test_every_picture_the_readme_shows_is_a_real_image() -> None:
    pictures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert "docs/screenshots/overview.png" in pictures
    for picture in pictures:
        with Image.open(ROOT / picture) as image:
            assert image.width >= 375 and image.height >= 300, picture
