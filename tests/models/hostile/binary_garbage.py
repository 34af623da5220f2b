"""Hostile: random bytes on stdout, NULs and invalid UTF-8 included, then a normal line."""
import random
import sys

rng = random.Random(4)
sys.stdout.buffer.write(bytes(rng.randrange(256) for _ in range(200_000)))
sys.stdout.buffer.write(b"\nstill here\n")
