# /// script
# requires-python = ">=3.11"
# dependencies = ["pyomo>=6.7", "highspy>=1.7"]
# ///
"""SO sample with its own dependencies: the battery problem of so_battery.py written with Pyomo, solved by
HiGHS (appsi_highs, through highspy). Same inputs (DATA_PATH, CONFIG), same objective; runs locally with
`uv run so_battery_pyomo.py`. Output: OUTPUT_DIR/so_schedule.csv.
"""

import csv
import json
import os
import time
from pathlib import Path

import pyomo.environ as pyo

BLOCK_H = 0.25


def report(**fields):
    print("::optbox " + json.dumps(fields), flush=True)


def main():
    cfg = {"capacity_mwh": 100.0, "power_mw": 25.0, "eta_charge": 0.95, "eta_discharge": 0.95, "soc_initial": 50.0,
           "degradation_inr_mwh": 400.0, "max_cycles": 2.0, **json.loads(os.environ.get("CONFIG") or "{}")}
    price = [float(row["price_inr_mwh"]) for row in csv.DictReader(open(os.environ["DATA_PATH"]))]
    n = len(price)
    print(f"SO (Pyomo): {cfg['capacity_mwh']} MWh / {cfg['power_mw']} MW battery, {n} blocks")
    report(progress=15)
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(0, n - 1)
    m.charge = pyo.Var(m.T, bounds=(0, cfg["power_mw"]))
    m.discharge = pyo.Var(m.T, bounds=(0, cfg["power_mw"]))
    m.soc = pyo.Var(m.T, bounds=(0, cfg["capacity_mwh"]))
    wear = cfg["degradation_inr_mwh"] / 2
    m.profit = pyo.Objective(expr=sum((price[t] - wear) * BLOCK_H * m.discharge[t] - (price[t] + wear) * BLOCK_H * m.charge[t]
                                      for t in m.T), sense=pyo.maximize)
    m.balance = pyo.Constraint(m.T, rule=lambda m, t: m.soc[t] == (m.soc[t - 1] if t else cfg["soc_initial"])
                               + cfg["eta_charge"] * BLOCK_H * m.charge[t] - BLOCK_H / cfg["eta_discharge"] * m.discharge[t])
    m.end = pyo.Constraint(expr=m.soc[n - 1] == cfg["soc_initial"])
    m.cycles = pyo.Constraint(expr=sum(m.discharge[t] for t in m.T) * BLOCK_H <= cfg["max_cycles"] * cfg["capacity_mwh"])
    report(progress=40)
    started = time.perf_counter()
    result = pyo.SolverFactory("appsi_highs").solve(m)
    solve_ms = (time.perf_counter() - started) * 1000
    if result.solver.termination_condition != pyo.TerminationCondition.optimal:
        raise SystemExit(f"HiGHS could not solve the storage LP: {result.solver.termination_condition}")
    profit = pyo.value(m.profit)
    with (Path(os.environ["OUTPUT_DIR"]) / "so_schedule.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["block", "price_inr_mwh", "charge_mw", "discharge_mw", "soc_mwh"])
        for t in range(n):
            writer.writerow([t + 1, price[t], round(m.charge[t].value, 3), round(m.discharge[t].value, 3), round(m.soc[t].value, 3)])
    print(f"Objective value: {profit:.2f}")
    report(progress=100, objective_value=round(profit, 2), results_count=n, solver_time_ms=round(solve_ms, 2))


if __name__ == "__main__":
    main()
