# /// script
# requires-python = ">=3.11"
# dependencies = ["pulp>=2.8"]
# ///
"""SO sample with its own dependencies: the battery problem of so_battery.py written with PuLP, solved by
PuLP's bundled CBC. Same inputs (DATA_PATH, CONFIG), same objective; runs locally with `uv run so_battery_pulp.py`.
Output: OUTPUT_DIR/so_schedule.csv.
"""

import csv
import json
import os
import time
from pathlib import Path

import pulp

BLOCK_H = 0.25


def report(**fields):
    print("::optbox " + json.dumps(fields), flush=True)


def main():
    cfg = {"capacity_mwh": 100.0, "power_mw": 25.0, "eta_charge": 0.95, "eta_discharge": 0.95, "soc_initial": 50.0,
           "degradation_inr_mwh": 400.0, "max_cycles": 2.0, **json.loads(os.environ.get("CONFIG") or "{}")}
    price = [float(row["price_inr_mwh"]) for row in csv.DictReader(open(os.environ["DATA_PATH"]))]
    n = len(price)
    print(f"SO (PuLP {pulp.__version__}): {cfg['capacity_mwh']} MWh / {cfg['power_mw']} MW battery, {n} blocks")
    report(progress=15)
    problem = pulp.LpProblem("battery", pulp.LpMaximize)
    charge = [pulp.LpVariable(f"c{t}", 0, cfg["power_mw"]) for t in range(n)]
    discharge = [pulp.LpVariable(f"d{t}", 0, cfg["power_mw"]) for t in range(n)]
    soc = [pulp.LpVariable(f"s{t}", 0, cfg["capacity_mwh"]) for t in range(n)]
    wear = cfg["degradation_inr_mwh"] / 2
    problem += pulp.lpSum((price[t] - wear) * BLOCK_H * discharge[t] - (price[t] + wear) * BLOCK_H * charge[t] for t in range(n))
    for t in range(n):
        before = soc[t - 1] if t else cfg["soc_initial"]
        problem += soc[t] == before + cfg["eta_charge"] * BLOCK_H * charge[t] - BLOCK_H / cfg["eta_discharge"] * discharge[t]
    problem += soc[-1] == cfg["soc_initial"]
    problem += pulp.lpSum(discharge) * BLOCK_H <= cfg["max_cycles"] * cfg["capacity_mwh"]
    report(progress=40)
    started = time.perf_counter()
    problem.solve(pulp.PULP_CBC_CMD(msg=False))
    solve_ms = (time.perf_counter() - started) * 1000
    if pulp.LpStatus[problem.status] != "Optimal":
        raise SystemExit(f"CBC could not solve the storage LP: {pulp.LpStatus[problem.status]}")
    profit = pulp.value(problem.objective)
    with (Path(os.environ["OUTPUT_DIR"]) / "so_schedule.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["block", "price_inr_mwh", "charge_mw", "discharge_mw", "soc_mwh"])
        for t in range(n):
            writer.writerow([t + 1, price[t], round(charge[t].value(), 3), round(discharge[t].value(), 3), round(soc[t].value(), 3)])
    print(f"Objective value: {profit:.2f}")
    report(progress=100, objective_value=round(profit, 2), results_count=n, solver_time_ms=round(solve_ms, 2),
           metrics={"pulp": pulp.__version__})


if __name__ == "__main__":
    main()
