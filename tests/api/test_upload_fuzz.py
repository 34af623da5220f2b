"""Fuzzing the upload form: whatever arrives, the answer is never a 5xx and a refusal stores nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FILENAMES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["m.py", "../../etc/passwd.py", "a/b\\c.py", "....py", ".py", "x.PY", "\u202e.py", "nul\x00.py", ""]),
)
CONTENTS = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=2048).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"x = 1\n", b"def f(:\n", b"CONFIG_SCHEMA = {'type': 1}\n", b"\xef\xbb\xbfprint(1)\n"]),
)
TYPES = st.one_of(st.sampled_from(["DMO", "RMO", "SO", "so", "", "XYZ"]), st.text(max_size=10))


def stored_files(stack) -> int:
    return sum(1 for p in (stack.data_dir / "files" / "models").rglob("*") if p.is_file())


def model_rows(api) -> int:
    models = api.get("/api/optimization/models").json()["models"]
    archived = api.get("/api/optimization/models", params={"status": "archived"}).json()["models"]
    return len(models) + len(archived)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(filename=FILENAMES, content=CONTENTS, model_type=TYPES, description=st.one_of(st.none(), st.text(max_size=200)))
def test_upload_form_never_5xx_and_refusals_leave_nothing(api, stack, keep_active_models, filename, content, model_type, description):
    files_before, rows_before = stored_files(stack), model_rows(api)
    data = {"modelType": model_type} | ({"description": description} if description is not None else {})
    response = api.post("/api/optimization/upload", files={"file": (filename, content, "application/octet-stream")}, data=data)
    assert response.status_code < 500, response.text
    if response.status_code == 201:
        model = response.json()["model"]
        assert "/" not in model["original_filename"] and "\\" not in model["original_filename"]
        assert api.delete("/api/optimization/models", params={"id": model["id"], "hard": "true"}).status_code == 200
    else:
        assert response.json()["success"] is False and response.json()["error"]
    assert (stored_files(stack), model_rows(api)) == (files_before, rows_before)
