"""deployments — how prefect.yaml reaches Prefect.

Owns: creating the process work pool and applying prefect.yaml with Prefect's
own `prefect deploy --all` (`apply.py`). prefect.yaml (at the top level, where
Prefect looks for it) declares the DMO/RMO/SO deployments of the one flow
`optbox-model-run`, their schedules (timezone OPTBOX_TIMEZONE) and retries.
Also the automation that marks a run Crashed when its heartbeats stop (its
worker died): `heartbeats.py`.
Contract: applying is idempotent; it never touches the app database.
"""
