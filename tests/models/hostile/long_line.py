"""Hostile: one 10 MB line without a newline until its end, then a normal line."""
import sys

sys.stdout.write("y" * (10 * 1024 * 1024) + "\n")
print("after the long line", flush=True)
