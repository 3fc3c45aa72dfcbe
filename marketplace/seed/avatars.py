"""Illustrated portraits for demo tutors: a flat bust on a soft background, with initials.

Deterministic per tutor (the same name always gets the same picture) and obviously drawn, so
nobody mistakes a demo tutor for a real person's photo.
"""

from __future__ import annotations

import hashlib
import io
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from marketplace.vocab import normalize_key

SIZE = 640
BACKGROUNDS = ("#F3E8D9", "#E3EEF0", "#ECE6F5", "#E6F0E2", "#F6E3E3", "#E9E9E9", "#FFF1CF")
SKIN = ("#F3D5C0", "#E8B896", "#C98E68", "#A26A45", "#7A4A2E", "#5A3623")
HAIR = ("#2B1E16", "#4A3222", "#7B5234", "#B7834F", "#D9B56F", "#8C8C8C", "#1D1D1D", "#A23B26")
CLOTHES = ("#5B3CC4", "#2F6F8F", "#3F7D4E", "#B5523B", "#394150", "#8A5A9E", "#C28B2C")


def portrait(name: str) -> bytes:
    """A 640×640 PNG portrait for ``name``."""
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    background = rng.choice(BACKGROUNDS)
    skin, hair, clothes = rng.choice(SKIN), rng.choice(HAIR), rng.choice(CLOTHES)
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    # A soft light behind the head.
    glow = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(glow).ellipse((110, 60, 530, 480), fill=70)
    image.paste("#FFFFFF", mask=glow.filter(ImageFilter.GaussianBlur(60)))
    cx = SIZE // 2 + rng.randint(-12, 12)
    long_hair = rng.random() < 0.45
    if long_hair:  # hair falling behind the shoulders
        draw.rounded_rectangle((cx - 150, 150, cx + 150, 470), radius=120, fill=hair)
    draw.ellipse((cx - 230, 420, cx + 230, 860), fill=clothes)  # shoulders
    draw.rectangle((cx - 45, 330, cx + 45, 450), fill=skin)  # neck
    draw.ellipse((cx - 55, 400, cx + 55, 470), fill=skin)
    head = (cx - 115, 120, cx + 115, 380)
    draw.ellipse(head, fill=skin)
    style = rng.choice(("cap", "side", "bun", "curls", "none")) if not long_hair else "cap"
    if style == "cap":
        draw.chord((cx - 125, 100, cx + 125, 330), 180, 360, fill=hair)
    elif style == "side":
        draw.chord((cx - 125, 100, cx + 125, 330), 170, 340, fill=hair)
    elif style == "bun":
        draw.ellipse((cx - 55, 55, cx + 55, 150), fill=hair)
        draw.chord((cx - 122, 105, cx + 122, 320), 180, 360, fill=hair)
    elif style == "curls":
        for i in range(9):
            x = cx - 110 + i * 27
            draw.ellipse((x - 32, 95 + (i % 2) * 14, x + 32, 165 + (i % 2) * 14), fill=hair)
    # Eyes and a smile, simple and friendly.
    eye_y = 255 + rng.randint(-6, 6)
    for dx in (-42, 42):
        draw.ellipse((cx + dx - 9, eye_y - 9, cx + dx + 9, eye_y + 9), fill="#2A211C")
    draw.arc((cx - 40, 270, cx + 40, 330), 20, 160, fill="#8A3E33", width=7)
    _initials(draw, name, clothes)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False)
    return out.getvalue()


def _initials(draw: ImageDraw.ImageDraw, name: str, colour: str) -> None:
    # Pillow's built-in font is Latin only: fold "Ł" to "L"; other scripts get no badge.
    letters = "".join(normalize_key(part)[:1] for part in name.split()[:2]).upper()
    if not letters.isascii() or not letters.isalpha():
        return
    box = (SIZE - 170, SIZE - 170, SIZE - 30, SIZE - 30)
    draw.ellipse(box, fill="#FFFFFF", outline=colour, width=8)
    font = ImageFont.load_default(size=56)
    draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), letters, fill=colour, font=font,
              anchor="mm")  # fmt: skip
