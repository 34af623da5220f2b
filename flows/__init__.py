"""flows — the Prefect side: the flow that runs a DMO/RMO/SO model, and maintenance.

Owns: the flow (`market.py`: claim, validate, run the model in its sandbox with
the run's limits, collect results), the retention flow (`maintenance.py`), the
model subprocess and its line stream (`model_process.py`), per-job sequencing of lines (`lines.py`) and the HTTP
client through which a flow reaches the facade (`facade.py`), the WebSocket its lines go over (`shipper.py`), and
what Prefect's own UI shows of a run: its flow run name and artifacts (`prefect_views.py`).
Contract: a flow reaches the model file, the dataset and the database only
over the network through the facade, so a worker may run on another machine.
Never imports `api/` or `storage/`.
"""
