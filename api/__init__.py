"""api — the FastAPI facade and its Socket.IO server, in one uvicorn process.

Owns: the public HTTP contract under /api/optimization (routes/), the internal
routes flows call (routes/internal.py; their line stream, line_stream.py), the Socket.IO events (realtime.py),
waiting runs' places in line (queue.py), creating and cancelling Prefect flow runs (orchestrator.py) and mirroring
Prefect run state into JobRun (mirror.py).
Contracts: routes validate, call one service function and return a schema; SQL
lives in storage/. Every job event goes to the `optimization` room and to the
job's and type's rooms, once per client. Never imports flows/.
"""
