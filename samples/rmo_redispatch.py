"""RMO sample: real-time re-dispatch for the coming 30 minutes.

Against the committed (day-ahead) position per minute and real-time prices,
the LP chooses up- and down-regulation of a flexible unit to maximise the
value of deviations minus regulation cost, within the unit's headroom, a
ramp limit and an energy budget for the half hour (HiGHS via linprog).

Inputs: DATA_PATH (CSV: minute, rt_price_inr_mwh, committed_mw), CONFIG
(optional): {"headroom_up": MW, "headroom_down": MW, "reg_cost": INR/MWh,
"ramp": MW/min, "energy_budget_mwh": MWh, "reference_price": INR/MWh}.
Output: OUTPUT_DIR/rmo_redispatch.csv.
"""

import csv
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, hstack, lil_matrix

CONFIG_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "headroom_up": {"type": "number", "minimum": 0},
        "headroom_down": {"type": "number", "minimum": 0},
        "reg_cost": {"type": "number", "minimum": 0},
        "ramp": {"type": "number", "exclusiveMinimum": 0},
        "energy_budget_mwh": {"type": "number", "minimum": 0},
        "reference_price": {"type": "number"},
    },
}
MINUTE_H = 1 / 60


def report(**fields):
    print("::optbox " + json.dumps(fields), flush=True)


def main():
    config = {"headroom_up": 60.0, "headroom_down": 80.0, "reg_cost": 350.0, "ramp": 12.0, "energy_budget_mwh": 20.0,
              "reference_price": 5000.0, **json.loads(os.environ.get("CONFIG") or "{}")}
    rows = list(csv.DictReader(open(os.environ["DATA_PATH"]))) if os.environ.get("DATA_PATH") else []
    if not rows:
        raise SystemExit("RMO needs real-time data (DATA_PATH): minute, rt_price_inr_mwh, committed_mw")
    price = np.array([float(r["rt_price_inr_mwh"]) for r in rows])
    committed = np.array([float(r["committed_mw"]) for r in rows])
    m = len(price)
    print(f"RMO: {m} minutes, real-time price {price.min():.0f}..{price.max():.0f} INR/MWh")
    report(progress=20)
    spread = price - config["reference_price"]
    # variables: up[0..m), down[0..m); value of up = spread - cost, of down = -spread - cost
    c = np.concatenate([-(spread - config["reg_cost"]), -(-spread - config["reg_cost"])]) * MINUTE_H
    bounds = [(0, config["headroom_up"])] * m + [(0, config["headroom_down"])] * m
    ramp = lil_matrix((2 * (m - 1), m))
    for t in range(1, m):
        ramp[2 * (t - 1), t], ramp[2 * (t - 1), t - 1] = 1, -1
        ramp[2 * (t - 1) + 1, t], ramp[2 * (t - 1) + 1, t - 1] = -1, 1
    ramp = ramp.tocsr()
    a_ramp = hstack([ramp, -ramp])  # on the net deviation up - down
    budget = csr_matrix(np.ones((1, 2 * m)) * MINUTE_H)
    a_ub = csr_matrix(np.vstack([a_ramp.toarray(), budget.toarray()]))
    b_ub = np.concatenate([np.full(2 * (m - 1), config["ramp"]), [config["energy_budget_mwh"]]])
    report(progress=50)
    started = time.perf_counter()
    result = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    solve_ms = (time.perf_counter() - started) * 1000
    if result.status != 0:
        raise SystemExit(f"HiGHS could not solve the re-dispatch LP: {result.message}")
    up, down = result.x[:m], result.x[m:]
    value = float(-result.fun)
    with (Path(os.environ["OUTPUT_DIR"]) / "rmo_redispatch.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["minute", "rt_price_inr_mwh", "committed_mw", "up_mw", "down_mw", "dispatch_mw"])
        for t in range(m):
            writer.writerow([t + 1, price[t], committed[t], round(up[t], 3), round(down[t], 3), round(committed[t] + up[t] - down[t], 3)])
    if up.sum() + down.sum() < 1e-6:
        print("WARNING: no re-dispatch is worth its cost this half hour")
    print(f"re-dispatch: +{up.sum() * MINUTE_H:.2f} MWh up, -{down.sum() * MINUTE_H:.2f} MWh down")
    print(f"Objective value: {value:.2f}")
    print(f"Results written: {m}")
    report(progress=100, objective_value=round(value, 2), results_count=m, solver_time_ms=round(solve_ms, 2),
           metrics={"up_mwh": round(float(up.sum() * MINUTE_H), 3), "down_mwh": round(float(down.sum() * MINUTE_H), 3)})


if __name__ == "__main__":
    main()
