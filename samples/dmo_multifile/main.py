"""DMO sample as a multi-file model: this entry file, market.py (the LP, with PuLP), units.json (the
portfolio) and pyproject.toml (its dependencies). Upload the folder as a .zip or .tar.gz; locally, in the
folder, `uv run main.py` with DATA_PATH and OUTPUT_DIR set.

Inputs: DATA_PATH (CSV: block, price_inr_mwh, load_mw), CONFIG (optional): {"units": [...]} replaces units.json.
Output: OUTPUT_DIR/dmo_schedule.csv. Same problem and objective as dmo_day_ahead.py.
"""

import csv
import json
import os
import time
from pathlib import Path

from market import BLOCK_H, solve_day_ahead

HERE = Path(__file__).parent  # the model's own files: read relative to it, not to the working directory


def report(**fields):
    print("::optbox " + json.dumps(fields), flush=True)


def main():
    config = json.loads(os.environ.get("CONFIG") or "{}")
    units = config.get("units") or json.loads((HERE / "units.json").read_text())
    rows = list(csv.DictReader(open(os.environ["DATA_PATH"])))
    prices, load = [float(r["price_inr_mwh"]) for r in rows], [float(r["load_mw"]) for r in rows]
    print(f"DMO (multi-file, PuLP): {len(prices)} blocks, {len(units)} units")
    report(progress=10)
    started = time.perf_counter()
    margin, output = solve_day_ahead(prices, units)
    solve_ms = (time.perf_counter() - started) * 1000
    net = [sum(row[t] for row in output) - load[t] for t in range(len(prices))]
    with (Path(os.environ["OUTPUT_DIR"]) / "dmo_schedule.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["block", "price_inr_mwh", "load_mw", *[u["name"] + "_mw" for u in units], "bid_mw"])
        for t in range(len(prices)):
            writer.writerow([t + 1, prices[t], load[t], *[round(row[t], 3) for row in output], round(net[t], 3)])
    print(f"sell {sum(max(x, 0) for x in net) * BLOCK_H:.1f} MWh")
    print(f"Objective value: {margin:.2f}")
    report(progress=100, objective_value=round(margin, 2), results_count=len(prices), solver_time_ms=round(solve_ms, 2))


if __name__ == "__main__":
    main()
