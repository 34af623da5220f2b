"""Test model: holds CONFIG["mb"] MB (default 150) of touched memory, spins the CPU for CONFIG["cpu_s"] seconds
(default 1), writes a small schedule result (block, charge_mw, soc_mwh) and reports."""
import json
import os
import time

config = json.loads(os.environ.get("CONFIG", "{}"))
held = bytearray(int(config.get("mb", 150)) * 1024 * 1024)
for offset in range(0, len(held), 4096):  # touch every page, so it is resident
    held[offset] = 1
deadline = time.process_time() + float(config.get("cpu_s", 1))
spins = 0
while time.process_time() < deadline:
    spins += 1
if output := os.environ.get("OUTPUT_DIR"):
    with open(os.path.join(output, "so_schedule.csv"), "w") as result:
        result.write("block,charge_mw,soc_mwh\n")
        result.writelines(f"{block},{(block % 8) - 4},{10 + block % 5}\n" for block in range(1, 97))
print("::optbox " + json.dumps({"progress": 100, "objective_value": 42.5, "results_count": 1}))
