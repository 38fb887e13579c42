"""The carrier fake's shipping label: a real one-page PDF, written byte by byte, no dependency.

A 4x6 inch page (288x432 pt, the thermal-label size carriers print) with the sender, the
recipient, the service, the shipment id and tracking number in Helvetica, and bars derived from
the tracking number where a real label has its barcode. The output is a deterministic function of
its input, so the same shipment always yields the same bytes (the fake is idempotent down to the
label). PDF 1.4, standard Type1 fonts with WinAnsiEncoding: text outside cp1252 becomes "?".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PAGE_WIDTH, PAGE_HEIGHT = 288, 432


@dataclass(frozen=True)
class LabelText:
    shipment_id: str
    tracking_number: str
    carrier: str
    service: str
    sender: Sequence[str]
    recipient: Sequence[str]
    weight_oz: float


def _literal(text: str) -> bytes:
    """A PDF literal string: cp1252 bytes, with backslash and parentheses escaped."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _text(x: float, y: float, font: str, size: int, line: str) -> bytes:
    return b"BT /%s %d Tf %.1f %.1f Td %s Tj ET\n" % (
        font.encode(),
        size,
        x,
        y,
        _literal(line),
    )


def _bars(tracking_number: str, x: float, y: float, height: float) -> bytes:
    """Thin and thick bars from the tracking number's bits: looks like a barcode, scans as none."""
    out = bytearray()
    for char in tracking_number.encode("ascii", errors="replace"):
        for bit in range(7):
            width = 2.0 if char >> bit & 1 else 1.0
            out += b"%.1f %.1f %.1f %.1f re f\n" % (x, y, width, height)
            x += width + 1.0
    return bytes(out)


def _content(label: LabelText) -> bytes:
    body = bytearray(b"0.8 w 10 10 268 412 re S\n")  # the label's border
    y = 400.0
    body += _text(18, y, "F2", 14, label.carrier.upper())
    body += _text(180, y, "F1", 9, label.service.upper())
    y -= 28
    for heading, lines in (("FROM", label.sender), ("SHIP TO", label.recipient)):
        body += _text(18, y, "F2", 8, heading)
        y -= 13
        for line in lines:
            body += _text(18, y, "F2" if heading == "SHIP TO" else "F1", 10, line)
            y -= 12
        y -= 10
    body += b"18 %.1f m 270 %.1f l S\n" % (y + 4, y + 4)
    y -= 60
    body += _bars(label.tracking_number, 18, y, 50)
    y -= 16
    body += _text(18, y, "F2", 11, f"TRACKING # {label.tracking_number}")
    y -= 14
    body += _text(18, y, "F1", 8, f"Shipment {label.shipment_id}")
    y -= 12
    body += _text(18, y, "F1", 8, f"Weight {label.weight_oz:g} oz")
    return bytes(body)


def render(label: LabelText) -> bytes:
    """The label as a complete PDF document (header, objects, xref table, trailer)."""
    content = _content(label)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 6 0 R"
        b" /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> >>" % (PAGE_WIDTH, PAGE_HEIGHT),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Title %s /Producer (Meridian carrier fake) /Subject %s >>"
        % (_literal(f"Shipping label {label.shipment_id}"), _literal(label.tracking_number)),
    ]
    document = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(document))
        document += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(document)
    document += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        document += b"%010d 00000 n \n" % offset
    document += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        len(objects),
        xref,
    )
    return bytes(document)
