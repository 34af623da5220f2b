"""cli — the top floor: the `optbox` command and how each role is started.

Owns: the Typer app (`app.py`: `optbox up | api | worker | prefect | prefect-services | deploy | migrate`),
the roles' command lines and start-up waits (`roles.py`) and the Prefect server runner (`prefect_server.py`);
and `optbox` as a client of a running optbox (`client_app.py`: login, models, run, logs, jobs, cancel, results,
try), which reaches the server only through its public HTTP API and Socket.IO (`client.py`), and runs a model
locally through the flow's own code (`try_model.py`). See docs/cli.md.
It imports every other folder (that is its job); no other folder imports it.
"""
