"""cli — the top floor: the `optbox` command and how each role is started.

Owns: the Typer app (`app.py`: `optbox up | api | worker | prefect | prefect-services | deploy | migrate`),
the roles' command lines and start-up waits (`roles.py`) and the Prefect server runner (`prefect_server.py`).
It imports every other folder (that is its job); no other folder imports it.
"""
