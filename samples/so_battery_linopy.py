# /// script
# requires-python = ">=3.11"
# dependencies = ["linopy>=0.4", "highspy>=1.7"]
# ///
"""SO sample with its own dependencies: the battery problem of so_battery.py written with linopy (arrays
over the block dimension), solved by HiGHS. Same inputs (DATA_PATH, CONFIG), same objective; runs locally
with `uv run so_battery_linopy.py`. Output: OUTPUT_DIR/so_schedule.csv.
"""

import json
import os
import time
from pathlib import Path

import linopy
import pandas as pd

BLOCK_H = 0.25


def report(**fields):
    print("::optbox " + json.dumps(fields), flush=True)


def main():
    cfg = {"capacity_mwh": 100.0, "power_mw": 25.0, "eta_charge": 0.95, "eta_discharge": 0.95, "soc_initial": 50.0,
           "degradation_inr_mwh": 400.0, "max_cycles": 2.0, **json.loads(os.environ.get("CONFIG") or "{}")}
    prices = pd.read_csv(os.environ["DATA_PATH"])
    blocks = pd.RangeIndex(len(prices), name="block")
    price = pd.Series(prices["price_inr_mwh"].to_numpy(dtype=float), index=blocks)
    n = len(blocks)
    print(f"SO (linopy {linopy.__version__}): {cfg['capacity_mwh']} MWh / {cfg['power_mw']} MW battery, {n} blocks")
    report(progress=15)
    m = linopy.Model()
    charge = m.add_variables(lower=0, upper=cfg["power_mw"], coords=[blocks], name="charge")
    discharge = m.add_variables(lower=0, upper=cfg["power_mw"], coords=[blocks], name="discharge")
    soc = m.add_variables(lower=0, upper=cfg["capacity_mwh"], coords=[blocks], name="soc")
    wear = cfg["degradation_inr_mwh"] / 2
    # soc_t - soc_{t-1} - eta_c h c_t + h / eta_d d_t = 0, with soc_{-1} = soc_initial
    flow = soc - cfg["eta_charge"] * BLOCK_H * charge + BLOCK_H / cfg["eta_discharge"] * discharge
    m.add_constraints(flow.isel(block=slice(1, None)) - soc.shift(block=1).isel(block=slice(1, None)) == 0, name="balance")
    m.add_constraints(flow.isel(block=0) == cfg["soc_initial"], name="start")
    m.add_constraints(soc.isel(block=n - 1) == cfg["soc_initial"], name="end")
    m.add_constraints(BLOCK_H * discharge.sum() <= cfg["max_cycles"] * cfg["capacity_mwh"], name="cycles")
    m.add_objective(((price - wear) * BLOCK_H * discharge - (price + wear) * BLOCK_H * charge).sum(), sense="max")
    report(progress=40)
    started = time.perf_counter()
    status, condition = m.solve(solver_name="highs", output_flag=False)
    solve_ms = (time.perf_counter() - started) * 1000
    if condition != "optimal":
        raise SystemExit(f"HiGHS could not solve the storage LP: {status} {condition}")
    profit = float(m.objective.value)
    schedule = pd.DataFrame({"block": blocks + 1, "price_inr_mwh": price.to_numpy(), "charge_mw": charge.solution.to_numpy().round(3),
                             "discharge_mw": discharge.solution.to_numpy().round(3), "soc_mwh": soc.solution.to_numpy().round(3)})
    schedule.to_csv(Path(os.environ["OUTPUT_DIR"]) / "so_schedule.csv", index=False)
    print(f"Objective value: {profit:.2f}")
    report(progress=100, objective_value=round(profit, 2), results_count=n, solver_time_ms=round(solve_ms, 2))


if __name__ == "__main__":
    main()
