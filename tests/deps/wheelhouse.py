"""A local package index for the dependency tests: tiny pure-Python wheels (and an sdist) written here,
so resolution and installs are deterministic and need no network."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

PROBE = "optbox-probe-pkg"  # a name PyPI does not have
SDIST_ONLY = "optbox-sdist-only-pkg"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(directory: Path, name: str, version: str, source: str | None = None) -> Path:
    """A py3-none-any wheel of package `name` whose module reports its own version."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": (source or f"__version__ = {version!r}\n").encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: optbox-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items()) + f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, data in files.items():
            wheel.writestr(member, data)
    return path


def build_sdist(directory: Path, name: str, version: str) -> Path:
    """A source distribution only (installing it would run its build code)."""
    dist = name.replace("-", "_")
    path = directory / f"{dist}-{version}.tar.gz"
    members = {
        f"{dist}-{version}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}-{version}/pyproject.toml": f'[project]\nname = "{name}"\nversion = "{version}"\n',
    }
    with tarfile.open(path, "w:gz") as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def fill(directory: Path) -> Path:
    """The test index: PROBE 1.0 and 2.0 as wheels, SDIST_ONLY 1.0 as an sdist."""
    directory.mkdir(parents=True, exist_ok=True)
    build_wheel(directory, PROBE, "1.0")
    build_wheel(directory, PROBE, "2.0")
    build_sdist(directory, SDIST_ONLY, "1.0")
    return directory
