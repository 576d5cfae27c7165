#!/usr/bin/env python3
"""Writes the JPEG fixtures of the nnc-data tests (no libraries needed).

A minimal baseline JPEG encoder: 8x8 float DCT, every quantisation step 1
(near-lossless), 4:4:4 sampling, flat Huffman tables (every DC category a
4-bit code, every AC symbol an 8-bit code). The pixel formulas are repeated
in tests/load.rs, which checks the decoded pixels against them.

    python3 make_jpeg.py   # writes gradient_grey.jpg and gradient_rgb.jpg here
"""

import math
import os

WIDTH, HEIGHT = 16, 8


def grey_pixel(x, y):
    return 20 + 12 * x + 5 * y


def rgb_pixel(x, y):
    return (30 + 12 * x, 40 + 20 * y, 220 - 8 * x - 6 * y)


ZIGZAG = sorted(
    ((u, v) for u in range(8) for v in range(8)),
    key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 == 0 else p[0]),
)

DC_SYMBOLS = list(range(12))
AC_SYMBOLS = [0x00, 0xF0] + [(run << 4) | size for run in range(16) for size in range(1, 11)]


class Bits:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0x00)
                self.acc, self.n = 0, 0

    def flush(self):
        while self.n != 0:
            self.put(1, 1)
        return bytes(self.out)


def category(v):
    return 0 if v == 0 else abs(v).bit_length()


def extra_bits(v, size):
    return v if v >= 0 else v + (1 << size) - 1


def dct(block):
    out = [[0.0] * 8 for _ in range(8)]
    for u in range(8):
        for v in range(8):
            cu = 1 / math.sqrt(2) if u == 0 else 1.0
            cv = 1 / math.sqrt(2) if v == 0 else 1.0
            s = 0.0
            for y in range(8):
                for x in range(8):
                    s += (
                        block[y][x]
                        * math.cos((2 * x + 1) * v * math.pi / 16)
                        * math.cos((2 * y + 1) * u * math.pi / 16)
                    )
            out[u][v] = 0.25 * cu * cv * s
    return out


def encode_block(bits, block, prev_dc):
    coeffs = dct([[p - 128.0 for p in row] for row in block])
    zz = [int(round(coeffs[u][v])) for (u, v) in ZIGZAG]
    diff = zz[0] - prev_dc
    size = category(diff)
    bits.put(DC_SYMBOLS.index(size), 4)
    if size:
        bits.put(extra_bits(diff, size), size)
    run = 0
    for k in range(1, 64):
        c = zz[k]
        if c == 0:
            run += 1
            continue
        while run > 15:
            bits.put(AC_SYMBOLS.index(0xF0), 8)
            run -= 16
        size = category(c)
        bits.put(AC_SYMBOLS.index((run << 4) | size), 8)
        bits.put(extra_bits(c, size), size)
        run = 0
    if run:
        bits.put(AC_SYMBOLS.index(0x00), 8)
    return zz[0]


def segment(marker, payload):
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def huffman_table(table_class, table_id, length, symbols):
    counts = [0] * 16
    counts[length - 1] = len(symbols)
    return bytes([(table_class << 4) | table_id]) + bytes(counts) + bytes(symbols)


def encode(planes):
    ncomp = len(planes)
    out = bytearray([0xFF, 0xD8])
    out += segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += segment(0xDB, bytes([0]) + bytes([1] * 64))
    sof = bytes([8]) + HEIGHT.to_bytes(2, "big") + WIDTH.to_bytes(2, "big") + bytes([ncomp])
    for c in range(ncomp):
        sof += bytes([c + 1, 0x11, 0])
    out += segment(0xC0, sof)
    out += segment(0xC4, huffman_table(0, 0, 4, DC_SYMBOLS) + huffman_table(1, 0, 8, AC_SYMBOLS))
    sos = bytes([ncomp])
    for c in range(ncomp):
        sos += bytes([c + 1, 0x00])
    out += segment(0xDA, sos + bytes([0, 63, 0]))
    bits = Bits()
    prev = [0] * ncomp
    for by in range(0, HEIGHT, 8):
        for bx in range(0, WIDTH, 8):
            for c in range(ncomp):
                block = [[planes[c][by + y][bx + x] for x in range(8)] for y in range(8)]
                prev[c] = encode_block(bits, block, prev[c])
    out += bits.flush()
    out += bytes([0xFF, 0xD9])
    return bytes(out)


def ycbcr(r, g, b):
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    return y, cb, cr


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    grey = [[float(grey_pixel(x, y)) for x in range(WIDTH)] for y in range(HEIGHT)]
    with open(os.path.join(here, "gradient_grey.jpg"), "wb") as f:
        f.write(encode([grey]))
    planes = [[[0.0] * WIDTH for _ in range(HEIGHT)] for _ in range(3)]
    for y in range(HEIGHT):
        for x in range(WIDTH):
            for c, v in enumerate(ycbcr(*rgb_pixel(x, y))):
                planes[c][y][x] = v
    with open(os.path.join(here, "gradient_rgb.jpg"), "wb") as f:
        f.write(encode(planes))


if __name__ == "__main__":
    main()
