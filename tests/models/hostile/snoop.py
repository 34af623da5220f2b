"""Hostile: looks for the server's secrets, files and code; reports what it could see or change."""
import json
import os

config = json.loads(os.environ["CONFIG"])
seen = {}
for label, path in config.get("paths", {}).items():
    try:
        if os.path.isdir(path):
            seen[label] = sorted(os.listdir(path))[:20]
        else:
            with open(path, "rb") as handle:
                seen[label] = len(handle.read(100))
    except OSError as exc:
        seen[label] = None if isinstance(exc, FileNotFoundError) else exc.__class__.__name__
writable = []
for path in ("/usr/optbox-test", "/etc/optbox-test", "/optbox-test", os.path.join(os.environ["OUTPUT_DIR"], "written.txt")):
    try:
        with open(path, "w") as handle:
            handle.write("x")
        writable.append(path)
        if not path.endswith("written.txt"):
            os.remove(path)  # without bubblewrap, as root, this did write the host's /usr: leave it as found
    except OSError:
        pass
try:  # whoever is PID 1 where the model runs: its environment's names (the server's own, were it shared)
    with open("/proc/1/environ", "rb") as handle:
        pid1_env = sorted({entry.split(b"=", 1)[0].decode() for entry in handle.read().split(b"\0") if entry})
except OSError as exc:
    pid1_env = exc.__class__.__name__
# a symlink to a host file in OUTPUT_DIR must not make the flow upload that file
os.symlink("/etc/hostname", os.path.join(os.environ["OUTPUT_DIR"], "planted-link"))
report = {"env": sorted(os.environ), "uid": os.getuid(), "root": sorted(os.listdir("/")), "seen": seen, "pid1_env": pid1_env, "writable": writable,
          "data_readable": open(os.environ["DATA_PATH"]).read(10) if "DATA_PATH" in os.environ else None}
print("::optbox " + json.dumps({"metrics": report}))
