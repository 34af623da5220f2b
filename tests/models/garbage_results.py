"""Test model: writes result files no reader accepts (bytes that are not UTF-8, rows longer than the header)
and a plain text note, then reports success."""
import json
import os
from pathlib import Path

output = Path(os.environ["OUTPUT_DIR"])
(output / "garbage.csv").write_bytes(b"\xff\xfe\x00\x81 not text at all \x00\xc3\x28\n\xff,\xfe\n")
(output / "ragged.csv").write_text("block,mw\n1,10\n2,20,30,40\n3,30\n")
(output / "notes.txt").write_text("the schedule is in the CSV files\n")
print("::optbox " + json.dumps({"progress": 100, "objective_value": 1.0, "results_count": 3}))
