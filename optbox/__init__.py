"""optbox — shared core: settings, the model-author protocol, the wire schemas and the batching of
concurrent callers (`batching.py`).

Owns what every role (API facade, Prefect flow, CLI) must agree on. It imports
nothing from `api/`, `flows/` or `storage/`; they import from it.
"""
