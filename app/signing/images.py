"""Images for visible signatures in the demo and tests, drawn with Pillow: a red round seal
(the shape of a Vietnamese agency seal: two rings, the name along the upper arc, a star) and a
blue hand-signature stroke, both PNG with a transparent background as Decree 30/2020
Appendix I asks. Real ones are uploaded (Ký số › Hình chữ ký, con dấu)."""

from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageDraw, ImageFont

from app.render_pdf import FONT_DIR

SEAL_RED = (200, 16, 46, 255)
INK_BLUE = (20, 40, 150, 255)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _star(centre: tuple[float, float], radius: float) -> list[tuple[float, float]]:
    points = []
    for index in range(10):
        r = radius if index % 2 == 0 else radius * 0.4
        angle = -math.pi / 2 + index * math.pi / 5
        points.append((centre[0] + r * math.cos(angle), centre[1] + r * math.sin(angle)))
    return points


def seal_png(unit_name: str, *, size_px: int = 600) -> bytes:
    """A red round seal with ``unit_name`` in capitals along its upper arc."""
    image = Image.new("RGBA", (size_px, size_px), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    centre = size_px / 2
    outer = size_px / 2 - 6
    ring = max(4, size_px // 60)
    draw.ellipse((centre - outer, centre - outer, centre + outer, centre + outer),
                 outline=SEAL_RED, width=ring)
    inner = outer * 0.66
    draw.ellipse((centre - inner, centre - inner, centre + inner, centre + inner),
                 outline=SEAL_RED, width=max(2, ring // 2))
    draw.polygon(_star((centre, centre), inner * 0.45), fill=SEAL_RED)

    text = unit_name.upper()
    font = ImageFont.truetype(str(FONT_DIR / "NotoSans-Bold.ttf"), max(12, size_px // 14))
    radius = (outer + inner) / 2
    span = math.radians(min(300, 14 * len(text) + 40))  # arc the text covers
    step = span / max(1, len(text) - 1)
    start = -math.pi / 2 - span / 2
    for index, char in enumerate(text):
        angle = start + index * step
        box = font.getbbox(char)
        glyph = Image.new("RGBA", (box[2] + 8, box[3] + 8), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((4, 4), char, font=font, fill=SEAL_RED)
        rotated = glyph.rotate(-math.degrees(angle + math.pi / 2), expand=True,
                               resample=Image.BICUBIC)
        x = centre + radius * math.cos(angle) - rotated.width / 2
        y = centre + radius * math.sin(angle) - rotated.height / 2
        image.alpha_composite(rotated, (int(x), int(y)))
    return _png(image)


def signature_png(full_name: str, *, width_px: int = 600, height_px: int = 240) -> bytes:
    """A flowing blue stroke, the same for the same name."""
    rng = random.Random(full_name)
    image = Image.new("RGBA", (width_px, height_px), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    loops = 3 + rng.randrange(3)
    phases = [rng.random() * math.pi for _ in range(3)]
    points = []
    for step in range(240):
        t = step / 239
        x = width_px * (0.08 + 0.84 * t) + 18 * math.sin(2 * math.pi * loops * t + phases[2])
        wave = sum(math.sin(2 * math.pi * (k + 1) * t * loops / 2 + phases[k]) / (k + 1)
                   for k in range(2))
        y = height_px * (0.55 - 0.25 * wave * (1 - 0.5 * t))
        points.append((x, y))
    draw.line(points, fill=INK_BLUE, width=max(3, height_px // 40), joint="curve")
    underline_y = height_px * (0.78 + 0.05 * rng.random())
    draw.line([(width_px * 0.15, underline_y), (width_px * 0.85, underline_y - height_px * 0.08)],
              fill=INK_BLUE, width=max(2, height_px // 60))
    return _png(image)
