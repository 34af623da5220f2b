"""A model that fails mid-run: prints, warns, then raises; its run ends failed with the traceback's tail."""
import sys

print("loading inputs")
print("WARNING: price series has a gap in block 41; interpolating")
sys.stderr.write("solver: infeasible at block 57\n")
raise RuntimeError("infeasible: demand exceeds capacity in block 57")
