"""Hostile: tries the server's loopback ports (CONFIG["ports"]) and the outside world; reports what it reached."""
import json
import os
import socket

config = json.loads(os.environ["CONFIG"])
reached, refused = [], []
targets = [("127.0.0.1", port) for port in config.get("ports", [])] + [("1.1.1.1", 53), ("8.8.8.8", 443)]
for host, port in targets:
    try:
        socket.create_connection((host, port), timeout=2).close()
        reached.append(f"{host}:{port}")
    except OSError as exc:
        refused.append(f"{host}:{port} {exc.__class__.__name__}")
try:
    socket.getaddrinfo("pypi.org", 443)
    reached.append("dns")
except OSError:
    refused.append("dns")
print("refused:", refused, flush=True)
print("::optbox " + json.dumps({"metrics": {"reached": reached, "refused": len(refused)}}))
