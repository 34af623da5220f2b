"""`python -m cli …` is the `optbox` command (how `optbox up` starts each role in this interpreter)."""

from cli.app import app

app(prog_name="optbox")
