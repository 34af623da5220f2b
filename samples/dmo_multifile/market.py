"""The day-ahead LP: each unit's output per block within its limits and ramps, maximising margin."""

import pulp

BLOCK_H = 0.25


def solve_day_ahead(prices: list[float], units: list[dict]) -> tuple[float, list[list[float]]]:
    """The margin (market value of output minus fuel cost, INR) and each unit's output per block (MW)."""
    blocks = range(len(prices))
    problem = pulp.LpProblem("day_ahead", pulp.LpMaximize)
    output = [[pulp.LpVariable(f"p_{k}_{t}", unit["p_min"], unit["p_max"]) for t in blocks] for k, unit in enumerate(units)]
    problem += pulp.lpSum((prices[t] - unit["cost"]) * BLOCK_H * output[k][t] for k, unit in enumerate(units) for t in blocks)
    for k, unit in enumerate(units):
        for t in blocks[1:]:
            problem += output[k][t] - output[k][t - 1] <= unit["ramp"]
            problem += output[k][t - 1] - output[k][t] <= unit["ramp"]
    problem.solve(pulp.PULP_CBC_CMD(msg=False))
    if pulp.LpStatus[problem.status] != "Optimal":
        raise SystemExit(f"CBC could not solve the day-ahead LP: {pulp.LpStatus[problem.status]}")
    return pulp.value(problem.objective), [[variable.value() for variable in row] for row in output]
