"""The visible part of the signatures, after Decree 30/2020 Appendix I: the leader's handwritten
signature image in the signature block; the agency's red seal overlapping the left third of it;
on attachments, the agency name and the signing time (ISO 8601, +07:00) at the top right of the
first page, in blue. Fonts are the embedded Noto Sans (DejaVu draws doubled letter spacing in
pyHanko's stamps)."""

from __future__ import annotations

import datetime as dt
import io

from PIL import Image
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import StaticStampStyle, TextStampStyle

from app.render_pdf import FONT_DIR

SIGNATURE_ASPECT = 2.5  # width / height of a signature image (app/signing/images.py draws 600×240)
_MARGIN = 5  # pyHanko's default margin around a stamp's background
VIETNAM = dt.timezone(dt.timedelta(hours=7))
BLUE = (0.0, 0.2, 0.7)


def _font():
    return GlyphAccumulatorFactory(str(FONT_DIR / "NotoSans-Regular.ttf"))


def _image(png: bytes) -> PdfImage:
    return PdfImage(Image.open(io.BytesIO(png)))


def seal_box(leader_box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Where the seal goes: a square a little taller than the signature space whose right edge
    is one third into the (centred) signature image, so the seal covers its left third."""
    x1, y1, x2, y2 = leader_box
    width, height = x2 - x1, y2 - y1
    image_height = height - 2 * _MARGIN
    image_width = min(width - 2 * _MARGIN, image_height * SIGNATURE_ASPECT)
    image_left = x1 + (width - image_width) / 2
    size = height * 1.1
    right = image_left + image_width / 3
    middle = y1 + height / 2
    return (round(right - size), round(middle - size / 2), round(right), round(middle + size / 2))


def attachment_box(page_width: float, page_height: float) -> tuple[int, int, int, int]:
    """Top right of the first page of an attachment, inside a 15 mm margin."""
    margin = 42
    return (round(page_width - margin - 190), round(page_height - margin - 34),
            round(page_width - margin), round(page_height - margin))


def text_params(agency_name: str, moment: dt.datetime) -> dict:
    """Parameters the stamp texts use: the agency's name and the signing time in ISO 8601 with
    Vietnam's +07:00 offset (``moment`` naive UTC, as times are stored)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return {"agency": agency_name,
            "vntime": moment.astimezone(VIETNAM).replace(microsecond=0).isoformat()}


def leader_style(signature_png: bytes | None, signer_name: str):
    """The leader's signature image; without one on file, the name in a plain text stamp."""
    if signature_png:
        return StaticStampStyle(background=_image(signature_png), background_opacity=1.0,
                                border_width=0)
    return TextStampStyle(
        stamp_text="Đã ký: " + signer_name.replace("%", "%%") + "\n%(vntime)s",
        text_box_style=TextBoxStyle(font=_font(), font_size=9, text_color=BLUE),
        border_width=0,
    )


def agency_style(seal_png: bytes | None):
    """The agency's red seal; without one on file, the agency name and time as on attachments."""
    if seal_png:
        return StaticStampStyle(background=_image(seal_png), background_opacity=1.0,
                                border_width=0)
    return attachment_style()


def attachment_style():
    return TextStampStyle(
        stamp_text="%(agency)s\n%(vntime)s",
        text_box_style=TextBoxStyle(font=_font(), font_size=10, text_color=BLUE),
        border_width=0,
    )
