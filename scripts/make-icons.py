#!/usr/bin/env python3
"""Draws the web client's PWA icons (web/icon-192.png, web/icon-512.png, web/maskable-192.png, web/maskable-512.png):
a flat blue square with a white "H", rounded with a transparent margin for the plain icons, full-bleed (the H inside the
central safe zone) for the maskable ones. Standard library only (zlib + struct); run once, the PNGs are committed.
Usage: python3 scripts/make-icons.py [web-dir]
"""
import os
import struct
import sys
import zlib

BLUE = (0x35, 0x58, 0xD6)
WHITE = (0xFF, 0xFF, 0xFF)
SS = 4  # supersamples per axis for anti-aliased edges


def inside_rounded(x, y, x0, y0, x1, y1, r):
    """Is (x, y) in the rectangle [x0, x1) x [y0, y1) with corners of radius r?"""
    if x < x0 or x >= x1 or y < y0 or y >= y1:
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def draw(size, maskable):
    """RGBA rows of one icon of size x size pixels."""
    s = float(size)
    if maskable:  # full bleed; the H within the central 80 % safe circle
        bg = (0.0, 0.0, s, s, 0.0)
        h = 0.40 * s
    else:
        m = 0.06 * s
        bg = (m, m, s - m, s - m, 0.20 * s)
        h = 0.50 * s
    stem = 0.13 * h * 1.25
    w = 0.78 * h
    hx0, hy0 = (s - w) / 2, (s - h) / 2
    bar = 0.12 * h * 1.25
    bars = [
        (hx0, hy0, hx0 + stem, hy0 + h),
        (hx0 + w - stem, hy0, hx0 + w, hy0 + h),
        (hx0, hy0 + (h - bar) / 2, hx0 + w, hy0 + (h + bar) / 2),
    ]
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter: none
        for px in range(size):
            cover_bg = cover_h = 0
            for sy in range(SS):
                y = py + (sy + 0.5) / SS
                for sx in range(SS):
                    x = px + (sx + 0.5) / SS
                    if inside_rounded(x, y, *bg):
                        cover_bg += 1
                        if any(a <= x < c and b <= y < d for a, b, c, d in bars):
                            cover_h += 1
            n = SS * SS
            if cover_bg == 0:
                row += b"\0\0\0\0"
                continue
            t = cover_h / cover_bg
            rgb = bytes(round(BLUE[i] * (1 - t) + WHITE[i] * t) for i in range(3))
            row += rgb + bytes([round(255 * cover_bg / n)])
        rows.append(bytes(row))
    return rows


def png(size, rows):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "web")
    for name, size, maskable in [("icon-192.png", 192, False), ("icon-512.png", 512, False),
                                 ("maskable-192.png", 192, True), ("maskable-512.png", 512, True)]:
        data = png(size, draw(size, maskable))
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(name, len(data), "bytes")


if __name__ == "__main__":
    main()
