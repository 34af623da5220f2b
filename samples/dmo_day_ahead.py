"""DMO sample: day-ahead bids and schedule for 96 fifteen-minute blocks.

A portfolio of two thermal units serves its own load and trades the rest on the
day-ahead market. The LP chooses each unit's output per block to maximise
market revenue minus fuel cost, within unit limits and ramp limits, solved
with HiGHS through scipy.optimize.linprog. The net position per block is the
bid (positive: sell, negative: buy).

Inputs: DATA_PATH (CSV: block, price_inr_mwh, load_mw), CONFIG (JSON, all
optional): {"units": [{"name", "p_min", "p_max", "cost", "ramp"}]}.
Output: OUTPUT_DIR/dmo_schedule.csv.
"""

import csv
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

CONFIG_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "units": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": {
                "type": "object",
                "required": ["name", "p_min", "p_max", "cost", "ramp"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z0-9_]{1,40}$"},
                    "p_min": {"type": "number", "minimum": 0},
                    "p_max": {"type": "number", "exclusiveMinimum": 0},
                    "cost": {"type": "number", "minimum": 0},
                    "ramp": {"type": "number", "exclusiveMinimum": 0},
                },
            },
        }
    },
}
BLOCK_H = 0.25
DEFAULT_UNITS = [
    {"name": "unit_a", "p_min": 120.0, "p_max": 400.0, "cost": 3600.0, "ramp": 40.0},
    {"name": "unit_b", "p_min": 0.0, "p_max": 250.0, "cost": 5200.0, "ramp": 80.0},
]


def report(**fields):
    print("::optbox " + json.dumps(fields), flush=True)


def load_inputs():
    rows = list(csv.DictReader(open(os.environ["DATA_PATH"]))) if os.environ.get("DATA_PATH") else []
    if len(rows) != 96:
        raise SystemExit(f"expected 96 blocks of day-ahead data, got {len(rows)}")
    return np.array([float(r["price_inr_mwh"]) for r in rows]), np.array([float(r["load_mw"]) for r in rows])


def build_lp(prices, units):
    n_units, blocks = len(units), len(prices)
    n = n_units * blocks
    cost = np.concatenate([(u["cost"] - prices) * BLOCK_H for u in units])  # minimise cost - revenue
    bounds = [(u["p_min"], u["p_max"]) for u in units for _ in range(blocks)]
    ramps = lil_matrix((2 * n_units * (blocks - 1), n))
    limits = []
    row = 0
    for k, unit in enumerate(units):
        for t in range(1, blocks):
            for sign in (1, -1):
                ramps[row, k * blocks + t] = sign
                ramps[row, k * blocks + t - 1] = -sign
                limits.append(unit["ramp"])
                row += 1
    return cost, ramps.tocsr(), np.array(limits), bounds


def main():
    config = json.loads(os.environ.get("CONFIG") or "{}")
    units = config.get("units") or DEFAULT_UNITS
    prices, load = load_inputs()
    print(f"DMO: {len(prices)} blocks, {len(units)} units, mean price {prices.mean():.0f} INR/MWh")
    report(progress=10)
    cost, ramps, limits, bounds = build_lp(prices, units)
    report(progress=30)
    started = time.perf_counter()
    result = linprog(cost, A_ub=ramps, b_ub=limits, bounds=bounds, method="highs")
    solve_ms = (time.perf_counter() - started) * 1000
    if result.status != 0:
        raise SystemExit(f"HiGHS could not solve the day-ahead LP: {result.message}")
    report(progress=70)
    output = result.x.reshape(len(units), len(prices))
    net = output.sum(axis=0) - load
    margin = float(-result.fun)  # market value of the units' output minus their fuel cost, INR
    out_dir = Path(os.environ["OUTPUT_DIR"])
    with (out_dir / "dmo_schedule.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["block", "price_inr_mwh", "load_mw", *[u["name"] + "_mw" for u in units], "bid_mw"])
        for t in range(len(prices)):
            writer.writerow([t + 1, prices[t], load[t], *[round(output[k, t], 3) for k in range(len(units))], round(net[t], 3)])
    sold = float(net.clip(min=0).sum() * BLOCK_H)
    bought = float((-net).clip(min=0).sum() * BLOCK_H)
    print(f"sell {sold:.1f} MWh, buy {bought:.1f} MWh; peak bid {net.max():.1f} MW in block {int(net.argmax()) + 1}")
    print(f"Objective value: {margin:.2f}")
    print(f"Results written: {len(prices)}")
    report(progress=100, objective_value=round(margin, 2), results_count=len(prices), solver_time_ms=round(solve_ms, 2),
           metrics={"sold_mwh": round(sold, 2), "bought_mwh": round(bought, 2), "solver": "highs"})


if __name__ == "__main__":
    main()
