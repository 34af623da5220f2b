"""harness — the real system on free ports, for the tests, the bench and the scale-out deployment.

Owns: starting and stopping the roles as real processes (`stack.py`: separately, or under one `optbox up`
as `make run` does), the scale-out deployment on PostgreSQL and Redis (`scale_out.py`) and the clients a
user's scripts would be (`clients.py`: httpx over the public API, a real Socket.IO client).
Reaches the system over HTTP, Socket.IO, Prefect's API and process signals only; never imports the product.
Not shipped in the wheel.
"""
