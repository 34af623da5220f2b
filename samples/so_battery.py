"""SO sample: battery arbitrage over 96 fifteen-minute blocks.

Charge c_t and discharge d_t (MW) with state of charge
soc_t = soc_{t-1} + eta_c c_t h - d_t h / eta_d, within capacity, power
limits and a cycle budget, ending where it started; maximise arbitrage
revenue minus degradation cost (LP, HiGHS via linprog).

Inputs: DATA_PATH (CSV: block, price_inr_mwh), CONFIG (optional):
{"capacity_mwh", "power_mw", "eta_charge", "eta_discharge", "soc_initial",
"degradation_inr_mwh", "max_cycles"}.
Output: OUTPUT_DIR/so_schedule.csv.
"""

import csv
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, diags, hstack, identity

CONFIG_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "capacity_mwh": {"type": "number", "exclusiveMinimum": 0},
        "power_mw": {"type": "number", "exclusiveMinimum": 0},
        "eta_charge": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "eta_discharge": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "soc_initial": {"type": "number", "minimum": 0},
        "degradation_inr_mwh": {"type": "number", "minimum": 0},
        "max_cycles": {"type": "number", "minimum": 0},
    },
}
BLOCK_H = 0.25


def report(**fields):
    print("::optbox " + json.dumps(fields), flush=True)


def main():
    cfg = {"capacity_mwh": 100.0, "power_mw": 25.0, "eta_charge": 0.95, "eta_discharge": 0.95, "soc_initial": 50.0,
           "degradation_inr_mwh": 400.0, "max_cycles": 2.0, **json.loads(os.environ.get("CONFIG") or "{}")}
    rows = list(csv.DictReader(open(os.environ["DATA_PATH"]))) if os.environ.get("DATA_PATH") else []
    if len(rows) != 96:
        raise SystemExit(f"expected 96 blocks of prices, got {len(rows)}")
    price = np.array([float(r["price_inr_mwh"]) for r in rows])
    n = len(price)
    print(f"SO: {cfg['capacity_mwh']} MWh / {cfg['power_mw']} MW battery, {n} blocks")
    report(progress=15)
    # variables x = [c (n), d (n), soc (n)]
    cost = np.concatenate([(price + cfg["degradation_inr_mwh"] / 2) * BLOCK_H, (-price + cfg["degradation_inr_mwh"] / 2) * BLOCK_H, np.zeros(n)])
    shift = diags([np.ones(n - 1)], [-1], shape=(n, n))
    # soc_t - soc_{t-1} - eta_c h c_t + h/eta_d d_t = 0 (soc_{-1} = soc_initial)
    a_eq = hstack([-cfg["eta_charge"] * BLOCK_H * identity(n), BLOCK_H / cfg["eta_discharge"] * identity(n), identity(n) - shift]).tocsr()
    b_eq = np.zeros(n)
    b_eq[0] = cfg["soc_initial"]
    end = csr_matrix(([1.0], ([0], [3 * n - 1])), shape=(1, 3 * n))
    a_eq = csr_matrix(np.vstack([a_eq.toarray(), end.toarray()]))
    b_eq = np.append(b_eq, cfg["soc_initial"])
    cycles = csr_matrix(np.concatenate([np.zeros(n), np.full(n, BLOCK_H), np.zeros(n)]).reshape(1, -1))
    bounds = [(0, cfg["power_mw"])] * (2 * n) + [(0, cfg["capacity_mwh"])] * n
    report(progress=40)
    started = time.perf_counter()
    result = linprog(cost, A_ub=cycles, b_ub=[cfg["max_cycles"] * cfg["capacity_mwh"]], A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    solve_ms = (time.perf_counter() - started) * 1000
    if result.status != 0:
        raise SystemExit(f"HiGHS could not solve the storage LP: {result.message}")
    charge, discharge, soc = result.x[:n], result.x[n:2 * n], result.x[2 * n:]
    profit = float(-result.fun)
    with (Path(os.environ["OUTPUT_DIR"]) / "so_schedule.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["block", "price_inr_mwh", "charge_mw", "discharge_mw", "soc_mwh"])
        for t in range(n):
            writer.writerow([t + 1, price[t], round(charge[t], 3), round(discharge[t], 3), round(soc[t], 3)])
            if (t + 1) % 24 == 0:
                report(progress=40 + 60 * (t + 1) / n * 0.9)
    throughput = float(discharge.sum() * BLOCK_H)
    print(f"discharged {throughput:.1f} MWh ({throughput / cfg['capacity_mwh']:.2f} cycles); SOC ends at {soc[-1]:.1f} MWh")
    print(f"Objective value: {profit:.2f}")
    print(f"Results written: {n}")
    report(progress=100, objective_value=round(profit, 2), results_count=n, solver_time_ms=round(solve_ms, 2),
           metrics={"discharged_mwh": round(throughput, 2), "cycles": round(throughput / cfg["capacity_mwh"], 3)})


if __name__ == "__main__":
    main()
