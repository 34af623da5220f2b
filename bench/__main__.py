"""`python -m bench` (what `make bench` runs): start the system, measure, print the table, write JSON.

  --quick        smaller counts (a smoke run, not the reference figures)
  --cases a,c    only these of a–i (references always run for the cases that use them)
  --out PATH     where the JSON goes (default bench/results/latest.json)
  --set KEY=VALUE an environment setting for the system (repeatable), e.g. --set OPTBOX_WORKER_POLL_S=5
  --profile ROLE py-spy the api, worker or prefect process (and its children) through the run; collapsed
                 stacks go next to the JSON (ROLE.profile.txt; flamegraph.pl or speedscope read them)
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import cases, fanout
from bench import environments as bench_environments
from bench.clients import Listener
from bench.prefect_stock import StockServer
from bench.stats import fmt, ratio, render
from harness.stack import ADMIN_TOKEN, Stack

RESULTS = Path(__file__).with_name("results") / "latest.json"
RATES = (100, 1000, 10000)
SECONDS = {100: 5, 1000: 5, 10000: 3}


def _met(value, limit) -> str:
    if value is None:
        return "no"
    return "yes" if value <= limit else "no"


CASE_NAMES = {"a": "(a) print → client", "b": "(b) 100,000-line burst", "c": "(c) click → first line", "d": "(d) POST /execute, 20 clients",
              "e": "(e) 10 MB upload", "f": "(f) 10 models × 1000/s", "g": "(g) output flood, health",
              "h": "(h) models' own environments", "i": "(i) viewers of one run"}


async def measure(system: Stack, selected: set[str], quick: bool) -> tuple[dict, list[dict]]:
    results: dict = {"load_before": cases.load_note()}
    rows: list[dict] = []
    scale = 0.2 if quick else 1.0
    async with httpx.AsyncClient(base_url=system.api_url, timeout=120, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http, \
            Listener(system.api_url, ADMIN_TOKEN) as listener:
        bench = cases.Bench(system, http, listener, StockServer(system.data_dir / "stock-prefect"))
        await bench.setup()
        await bench.execute(1, 0)  # one run first: the forkserver and every connection warm
        await asyncio.sleep(3)
        try:
            for letter in "ecahbdgfi":  # quiet cases first, the one that loads the machine last
                if letter not in selected:
                    continue
                results.setdefault("settled_s", {})[letter] = round(await cases.settled(bench.system), 1)
                print(f"bench: {CASE_NAMES[letter]} …", flush=True)
                try:
                    await listener.ensure_connected()
                    rows += await CASES[letter](bench, results, scale)
                except Exception as exc:  # noqa: BLE001 - one broken case must not hide the others' figures
                    print(f"bench: {CASE_NAMES[letter]} failed: {exc!r}", flush=True)
                    results[f"{letter}_error"] = repr(exc)
                    rows.append({"case": CASE_NAMES[letter], "measure": "error", "ours": repr(exc)[:100], "met": "no"})
        finally:
            await bench.stock_prefect.stop()
    results["load_after"] = cases.load_note()
    return results, rows


async def case_e(bench: cases.Bench, results: dict, scale: float) -> list[dict]:
    up = results["e_upload"] = await cases.upload(bench, 10 * 1024 * 1024 - 1024, 2 if scale < 1 else 3)
    return [{"case": "(e) 10 MB upload", "measure": "p50 / max", "ours": f"{fmt(up['p50_ms'])} / {fmt(up['max_ms'])} ms",
             "floor": f"{fmt(up['compile_alone_ms'])} ms (compile alone)", "vs_floor": ratio(up["p50_ms"], up["compile_alone_ms"]),
             "target": "≤ 300 ms", "met": _met(up["max_ms"], 300)}]


async def case_c(bench: cases.Bench, results: dict, scale: float) -> list[dict]:
    click = results["c_click_to_first_line"] = await cases.click_to_first_line(bench, 4 if scale < 1 else 10)
    return [{"case": "(c) click → first line", "measure": "median / max", "ours": f"{fmt(click['median_ms'])} / {fmt(click['max_ms'])} ms",
             "target": "median ≤ 300 ms", "met": _met(click["median_ms"], 300)}]


async def case_a(bench: cases.Bench, results: dict, scale: float) -> list[dict]:
    rows = []
    results["a_latency"], results["floor_latency"] = [], []
    for rate in RATES:
        count = int(rate * SECONDS[rate] * scale)
        ours = await cases.latency(bench, rate, count)
        base = await cases.floor(rate, count)
        results["a_latency"].append(ours)
        results["floor_latency"].append(base)
        prefect = None
        if rate == 1000:
            prefect = results["prefect_stock_latency"] = await cases.prefect_stock(bench.stock_prefect, rate, count)
        target = rate == 1000
        rows.append({
            "case": f"(a) print → client, {rate}/s", "measure": "p50 / p99",
            "ours": f"{fmt(ours['p50_ms'])} / {fmt(ours['p99_ms'])} ms" + ("" if ours["live_lost"] == 0 else f" ({ours['live_lost']} lost)"),
            "floor": f"{fmt(base['p50_ms'])} / {fmt(base['p99_ms'])} ms",
            "prefect": f"{fmt(prefect['p50_ms'])} / {fmt(prefect['p99_ms'])} ms ({prefect['received']}/{count})" if prefect else "—",
            "vs_floor": f"{ratio(ours['p50_ms'], base['p50_ms'])} / {ratio(ours['p99_ms'], base['p99_ms'])}",
            "vs_prefect": f"{ratio(ours['p50_ms'], prefect['p50_ms'])} / {ratio(ours['p99_ms'], prefect['p99_ms'])}" if prefect else "—",
            "target": "p50 ≤ 10, p99 ≤ 50 ms" if target else "",
            "met": ("yes" if _met(ours["p50_ms"], 10) == _met(ours["p99_ms"], 50) == "yes" and ours["live_lost"] == 0 else "no") if target else "",
        })
    return rows


async def case_b(bench: cases.Bench, results: dict, scale: float) -> list[dict]:
    count = int(100_000 * scale)
    burst = results["b_burst"] = await cases.burst(bench, count)
    base = results["floor_burst"] = await cases.floor(0, count)
    prefect_count = int(5000 * scale)
    prefect = results["prefect_stock_burst"] = await cases.prefect_stock(bench.stock_prefect, 0, prefect_count)
    await bench.stock_prefect.stop()  # the reference is done; its server would only be noise for (d) and (f)
    ok = burst["live_lost"] == 0 and burst["stored_lost"] == 0 and burst["live_in_order"] and burst["stored_in_order"]
    return [{"case": f"(b) {count:,}-line burst", "measure": "client has all / stored, after model end",
             "ours": f"{fmt(burst['delivered_after_end_s'])} / {fmt(burst['stored_after_end_s'])} s, " + ("all in order" if ok else "LOST OR OUT OF ORDER"),
             "floor": f"{fmt(base.get('delivered_after_end_s'))} s",
             "prefect": f"{prefect['received']:,} of {prefect_count:,} lines delivered",
             "vs_floor": ratio(burst["delivered_after_end_s"], base.get("delivered_after_end_s")),
             "target": "all, in order, stored ≤ 10 s", "met": "yes" if ok and (burst["stored_after_end_s"] or 1e9) <= 10 else "no"}]


async def case_d(bench: cases.Bench, results: dict, scale: float) -> list[dict]:
    d = results["d_execute"] = await cases.execute_concurrency(bench, 20, 5 if scale < 1 else 25)
    return [{"case": f"(d) POST /execute, 20 clients, {d['requests']} requests", "measure": "p50 / p99 (max)",
             "ours": f"{fmt(d['p50_ms'])} / {fmt(d['p99_ms'])} ({fmt(d['max_ms'])}) ms",
             "target": "p99 ≤ 50 ms", "met": _met(d["p99_ms"], 50)}]


async def case_f(bench: cases.Bench, results: dict, scale: float) -> list[dict]:
    f = results["f_fan_in"] = await cases.fan_in(bench, 10, 1000, int(10_000 * scale))
    ok = f["lost_live"] == 0 and f["lost_stored"] == 0 and f["all_in_order"]
    ran = "" if f["completed"] == f["models"] else f" ({f['models'] - f['completed']} runs never started: Prefect failed them)"
    return [{"case": "(f) 10 models × 1000/s", "measure": "facade RSS max / CPU mean",
             "ours": f"{fmt(f['rss_max_mb'])} MB / {fmt(f['cpu_mean_pct'])} %, "
                     + ("nothing lost" if ok else f"LOST {f['lost_live']} live, {f['lost_stored']} stored") + ran,
             "target": "RSS ≤ 300 MB, none lost, all ran",
             "met": "yes" if ok and not ran and (f["rss_max_mb"] or 1e9) <= 300 else "no"}]


async def case_g(bench: cases.Bench, results: dict, scale: float) -> list[dict]:
    # the default cap (200 MB) with 300 MB printed; --quick keeps the proportion at a fifth of both
    g = results["g_flood"] = await cases.flood(bench, 300 * scale, None if scale == 1 else 200 * scale, poll_s=0.05)
    health = g["health"]
    kept = g["live_lines"] == g["cap_lines"] and g["live_in_order"] and g["notices"] == 1 and g["stored_last_seq"] == g["live_last_seq"]
    return [{"case": f"(g) {g['megabytes']:g} MB flood, {g['cap_mb']:g} MB cap", "measure": "GET /api/health p50 / p99 / max",
             "ours": f"{fmt(health['p50_ms'])} / {fmt(health['p99_ms'])} / {fmt(health['max_ms'])} ms ({health['n']} polls"
                     + (f", {health['failed']} failed)" if health["failed"] else ")"),
             "target": "max < 1000 ms", "met": "yes" if not health["failed"] and (health["max_ms"] or 1e9) < 1000 else "no"},
            {"case": f"(g) {g['megabytes']:g} MB flood, {g['cap_mb']:g} MB cap", "measure": "lines kept / run took",
             "ours": f"{g['live_lines']:,} of the cap's {g['cap_lines']:,}, " + ("in order, stored, 1 notice" if kept else "WRONG (see JSON)")
                     + f" / {fmt(g['run_s'])} s",
             "target": "the cap's lines, in order", "met": "yes" if kept and g["status"] == "completed" else "no"}]


VIEWERS = (1, 10, 100, 300)
FAN_OUT_TARGETS = {(100, True): 100, (300, True): 250, (40, False): 250}  # p99 ms; per-line clients: today's 40-viewer figure


async def case_i(bench: cases.Bench, results: dict, scale: float) -> list[dict]:
    """One run at 1,000 lines/s watched by 1-300 viewers, batched and per-line; the ratio of each p99 to one viewer's."""
    rows, runs = [], results.setdefault("i_fan_out", [])
    # the bench's own listener is a per-line python-socketio client: an eleventh viewer, and a costly one on these
    # two cores; the next case reconnects it
    await bench.listener.client.disconnect()
    seconds = 5 * scale if scale < 1 else 5
    for batch, viewer_counts in ((True, VIEWERS), (False, (1, 10, 40, 100))):
        one = None
        for viewers in viewer_counts:
            await cases.settled(bench.system)
            run = await fanout.fan_out(bench, viewers, batch, 1000, seconds)
            runs.append(run)
            one = one or run
            ok = run["all_lines"] == viewers and run["in_order"] and not run["disconnected"]
            target = FAN_OUT_TARGETS.get((viewers, batch))
            rows.append({"case": f"(i) {viewers} {'batched' if batch else 'per-line'} viewer{'s' if viewers > 1 else ''}, 1000/s",
                         "measure": "p50 / p99, vs 1 viewer",
                         "ours": f"{fmt(run['p50_ms'])} / {fmt(run['p99_ms'])} ms, "
                                 + ("all, in order" if ok else f"{run['all_lines']}/{viewers} got all, {run['disconnected']} dropped, {run['replays']} replays")
                                 + f"; viewers' loops late ≤ {run['viewer_lag_max_ms']} ms",
                         "vs_floor": ratio(run["p99_ms"], one["p99_ms"]),
                         "target": f"all, p99 ≤ {target} ms" if target else "",
                         "met": ("yes" if ok and (run["p99_ms"] or 1e9) <= target else "no") if target else ""})
    return rows


async def case_h(bench: cases.Bench, results: dict, scale: float) -> list[dict]:
    h = results["h_environments"] = await asyncio.to_thread(bench_environments.measure, scale < 1)
    rows = [{"case": f"(h) first run, empty cache: {name.removeprefix('so_battery_').removesuffix('.py')}",
             "measure": "resolve + download + build + bytecode + run", "ours": f"{fmt(seconds)} s",
             "target": f"≤ {target:g} s", "met": _met(seconds, target)}
            for name, target in bench_environments.COLD.items() if (seconds := h["cold_s"].get(name)) is not None]
    added = h["repeat_own_ms"] - h["repeat_base_ms"]
    rows.append({"case": "(h) repeat run, built environment", "measure": "median, own env vs base env",
                 "ours": f"{fmt(h['repeat_own_ms'])} vs {fmt(h['repeat_base_ms'])} ms (+{fmt(added)} ms)",
                 "target": "≤ +50 ms", "met": _met(added, 50)})
    if "sandbox_inside_ms" in h:
        rows.append({"case": "(h) PuLP run in the sandbox", "measure": "median, inside vs outside bwrap",
                     "ours": f"{fmt(h['sandbox_inside_ms'])} vs {fmt(h['sandbox_outside_ms'])} ms",
                     "vs_floor": ratio(h["sandbox_inside_ms"], h["sandbox_outside_ms"]), "target": "≤ 1.15×",
                     "met": _met(h["sandbox_inside_ms"] / h["sandbox_outside_ms"], 1.15)})
    return rows


CASES = {"a": case_a, "b": case_b, "c": case_c, "d": case_d, "e": case_e, "f": case_f, "g": case_g, "h": case_h, "i": case_i}


def _profile(system: Stack, role: str, folder: Path) -> subprocess.Popen:
    pid = system.role_process(role).pid
    out = folder / f"{role}.profile.txt"
    print(f"bench: py-spy recording {role} (pid {pid}) into {out}", flush=True)
    return subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--subprocesses", "--rate", "200",
                             "--format", "raw", "--output", str(out), "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cases", default="abcdefghi")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--profile", choices=["api", "worker", "prefect"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    selected = set(args.cases.replace(",", ""))
    started = time.monotonic()
    data_dir = args.out.parent / "system"  # kept after the run: its logs say what each role did
    shutil.rmtree(data_dir, ignore_errors=True)
    system = Stack(data_dir.resolve(), extra_env=dict(item.split("=", 1) for item in args.set), for_tests=False)
    print(f"bench: starting optbox up in {data_dir} …", flush=True)
    try:
        system.start_up()
        print(f"bench: system up in {time.monotonic() - started:.0f} s; measuring {''.join(sorted(selected))}", flush=True)
        profiler = _profile(system, args.profile, args.out.parent) if args.profile else None
        try:
            results, rows = asyncio.run(measure(system, selected, args.quick))
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(60)
    finally:
        system.stop()
    load = results["load_before"], results["load_after"]
    payload = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "settings": system.extra_env, "host": platform.node(), "python": platform.python_version(),
               "quick": args.quick, "seconds": round(time.monotonic() - started), "load": load, "results": results, "table": rows}
    cases.dump(args.out, payload)
    print(render(rows))
    print(f"load average before/after: {load[0]['loadavg']} / {load[1]['loadavg']} on {load[0]['cpus']} CPUs "
          f"(busy {load[0]['cpu_busy_pct']:.0f} % before the run)")
    print(f"bench: wrote {args.out} in {payload['seconds']} s")


if __name__ == "__main__":
    main()
