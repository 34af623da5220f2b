"""Regenerates the sample input series (synthetic, deterministic): `python samples/data/make_data.py`.

The prices follow a typical Indian exchange day shape (a morning ramp, a solar
dip at midday, an evening peak) in INR/MWh with seeded noise; they are
generated, not market data.
"""

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
BLOCKS = 96


def day_ahead_prices(rng: np.random.Generator) -> np.ndarray:
    hours = np.arange(BLOCKS) / 4
    shape = 4200 + 1400 * np.exp(-((hours - 9) ** 2) / 6) - 1600 * np.exp(-((hours - 13) ** 2) / 5) + 3200 * np.exp(-((hours - 20) ** 2) / 4)
    return np.round(shape + rng.normal(0, 180, BLOCKS), 2)


def write(name: str, header: list[str], rows) -> None:
    with (HERE / name).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    rng = np.random.default_rng(2026)
    prices = day_ahead_prices(rng)
    hours = np.arange(BLOCKS) / 4
    load = np.round(310 + 90 * np.exp(-((hours - 19.5) ** 2) / 8) + 40 * np.exp(-((hours - 10) ** 2) / 10) + rng.normal(0, 8, BLOCKS), 1)
    write("dmo_prices.csv", ["block", "price_inr_mwh", "load_mw"], ((b + 1, p, l) for b, (p, l) in enumerate(zip(prices, load))))
    write("so_prices.csv", ["block", "price_inr_mwh"], ((b + 1, p) for b, p in enumerate(day_ahead_prices(np.random.default_rng(7)))))
    minutes = np.arange(30)
    rt_price = np.round(5200 + 900 * np.sin(minutes / 5) + rng.normal(0, 250, 30), 2)
    committed = np.round(420 + 15 * np.cos(minutes / 7), 1)
    write("rmo_realtime.csv", ["minute", "rt_price_inr_mwh", "committed_mw"], ((m + 1, p, c) for m, (p, c) in enumerate(zip(rt_price, committed))))


if __name__ == "__main__":
    main()
