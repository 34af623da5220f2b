"""A model that does not compile (line 5): uploads of it are refused with the line."""
import json

def main(:
    print("never runs")
