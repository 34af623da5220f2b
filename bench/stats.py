"""Percentiles and the printed table."""

from __future__ import annotations

import statistics


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary_ms(values_ns: list[int]) -> dict:
    ms = [v / 1e6 for v in values_ns]
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99), "max_ms": max(ms) if ms else None,
            "mean_ms": statistics.fmean(ms) if ms else None}


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    else:
        text = str(value)
    return f"{text}{unit}"


def ratio(ours, other) -> str:
    if ours is None or not other:
        return "—"
    return f"{ours / other:.2f}×"


def render(rows: list[dict]) -> str:
    headers = ["case", "measure", "optbox", "floor", "Prefect stock", "vs floor", "vs Prefect", "target", "met"]
    cells = [[r["case"], r["measure"], r["ours"], r.get("floor", "—"), r.get("prefect", "—"), r.get("vs_floor", "—"),
              r.get("vs_prefect", "—"), r.get("target", ""), r.get("met", "")] for r in rows]
    widths = [max(len(str(row[i])) for row in [headers, *cells]) for i in range(len(headers))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return "\n".join([line, rule, *body])
