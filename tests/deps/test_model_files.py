"""Reading model uploads: PEP 723 blocks, archives and their refusals."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile

import pytest

from optbox.model_files import MAX_MEMBERS, ModelFileError, read_model, script_requirements, stem

PEP723 = '''# /// script
# requires-python = ">=3.11"
# dependencies = [
#   "pulp>=2.8",
#   "numpy",
# ]
# ///
print("hi")
'''


def zipped(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def tarred(members: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
    return buffer.getvalue()


def test_reads_the_dependencies_and_python_of_a_pep_723_block():
    requirements = script_requirements(PEP723)
    assert requirements.dependencies == ["pulp>=2.8", "numpy"]
    assert requirements.requires_python == ">=3.11"


def test_a_model_without_a_block_needs_nothing():
    assert script_requirements("import numpy\n").dependencies == []


def test_refuses_a_block_that_is_not_toml():
    with pytest.raises(ModelFileError) as refused:
        script_requirements("# /// script\n# dependencies = [\n# ///\n")
    assert refused.value.status == 422


def test_an_archive_runs_main_py_and_takes_pyproject_dependencies():
    model = read_model("dmo.zip", zipped({
        "dmo/main.py": b"import helpers\n", "dmo/helpers.py": b"X = 1\n", "dmo/params.json": b"{}",
        "dmo/pyproject.toml": b'[project]\nname = "dmo"\nversion = "1"\ndependencies = ["pulp==2.9.*"]\n',
    }))
    assert model.entry == "main.py"  # the archive's one top folder is its root
    assert set(model.files) == {"main.py", "helpers.py", "params.json", "pyproject.toml"}
    assert model.requirements.dependencies == ["pulp==2.9.*"]


def test_an_archive_names_its_entry_in_pyproject_or_the_upload_and_reads_requirements_txt():
    members = {"run.py": b"", "other.py": b"", "requirements.txt": b"# pins\npulp==2.8.*  # solver\n\n",
               "pyproject.toml": b'[tool.optbox]\nentry = "run.py"\n'}
    assert read_model("m.tar.gz", tarred(members)).entry == "run.py"
    assert read_model("m.tar.gz", tarred(members)).requirements.dependencies == ["pulp==2.8.*"]
    assert read_model("m.zip", zipped(members), entry="other.py").entry == "other.py"


def test_refuses_an_archive_without_its_entry_file():
    with pytest.raises(ModelFileError, match="no entry file 'main.py'"):
        read_model("m.zip", zipped({"model.py": b""}))


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/etc/evil.py"])
def test_refuses_members_outside_the_archive(name):
    for archive, data in (("m.zip", zipped({"main.py": b"", name: b"x"})), ("m.tar.gz", tarred({"main.py": b"", name: b"x"}))):
        with pytest.raises(ModelFileError) as refused:
            read_model(archive, data)
        assert refused.value.status == 400


def test_refuses_links():
    with pytest.raises(ModelFileError, match="link"):
        read_model("m.zip", zipped({"main.py": b""}, links=("passwd",)))
    with pytest.raises(ModelFileError, match="link"):
        read_model("m.tar.gz", tarred({"main.py": b""}, symlink="passwd"))


def test_refuses_archives_over_the_limits():
    with pytest.raises(ModelFileError) as many:
        read_model("m.zip", zipped({f"f{i}.py": b"" for i in range(MAX_MEMBERS + 1)}))
    assert many.value.status == 413
    bomb = zipped({"main.py": b"", "zeros.bin": bytes(51 * 1024 * 1024)})  # compresses to ~50 KB
    assert len(bomb) < 1024 * 1024
    with pytest.raises(ModelFileError) as big:
        read_model("m.zip", bomb)
    assert big.value.status == 413


def test_refuses_a_file_that_is_also_a_folder():
    with pytest.raises(ModelFileError, match="which is a file"):
        read_model("m.zip", zipped({"main.py": b"", "lib": b"", "lib/x.py": b""}))


def test_refuses_what_is_not_an_archive():
    with pytest.raises(ModelFileError) as refused:
        read_model("m.zip", b"not a zip")
    assert refused.value.status == 400


def test_a_model_is_named_after_its_file_without_suffixes():
    assert [stem(name) for name in ("battery.py", "battery.zip", "battery.tar.gz", "battery.tgz")] == ["battery"] * 4
