#!/usr/bin/python3
"""Writes the WebP fixtures (golang.org/x/image has a WebP decoder but no
encoder): one lossless 12x10 image per fixture class in its colour, and a
lossy 16x12 gradient that decodes through VP8 to Y'CbCr 4:2:0.
tiny.webp (6x4 lossless, pixel (x, y) = (40x, 60y, 200)) was made the same
way. Run with Debian's python3 (PIL 9.4 with libwebp):

    /usr/bin/python3 gen_images.py
"""
from PIL import Image

for name, c in [("cat", (200, 30, 30)), ("dog", (30, 200, 30)), ("emu", (30, 30, 200))]:
    Image.new("RGB", (12, 10), c).save(name + ".webp", lossless=True)

im = Image.new("RGB", (16, 12))
im.putdata([(16 * x, 20 * y, 255 - 10 * x) for y in range(12) for x in range(16)])
im.save("lossy.webp", quality=95)
