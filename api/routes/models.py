"""Models: upload (a new version per name), list, activate, archive, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from api.auth import Admin, Uploader, Viewer
from api.deps import FacadeDep, IdPath, IdQuery, SessionDep
from api.errors import ApiError
from api.registry import activate as activate_version
from api.registry import archive_or_delete_model, register_model
from api.schemas import JobSummary, LockDiff, ModelLockResponse, ModelOut, ModelsResponse, ModelWithRuns, UploadResponse
from api.type_settings import mismatch_note
from optbox import environments
from optbox.protocol import MAX_DB_INT, ModelType
from storage import catalog

router = APIRouter(prefix="/api/optimization", tags=["models"])


async def read_bounded(upload: UploadFile, max_bytes: int) -> bytes:
    """At most one byte past the limit: enough for the size check to refuse it, never the whole file."""
    return await upload.read(max_bytes + 1)


def parse_model_type(value: str | None) -> ModelType:
    try:
        return ModelType((value or "").upper())
    except ValueError:
        raise ApiError(400, f"unknown modelType {value!r}: use DMO, RMO or SO") from None


FLAG_VALUES = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def form_flag(name: str, value: str | None, default: bool) -> bool:
    """A yes/no form field; `default` when it is not sent. Read by hand: FastAPI reads a bool form
    field that is not sent as false (an HTML checkbox), which would make every upload a candidate."""
    if value is None or value == "":
        return default
    try:
        return FLAG_VALUES[value.strip().lower()]
    except KeyError:
        raise ApiError(422, f"{name} must be true or false, not {value!r}") from None


@router.post("/upload", status_code=201, response_model=UploadResponse)
async def upload_model(
    facade: FacadeDep, session: SessionDep, who: Uploader,
    file: Annotated[UploadFile, File(description="the model: a .py file, or a .zip / .tar.gz of its files")],
    modelType: Annotated[str, Form()],
    description: Annotated[str | None, Form()] = None,
    entry: Annotated[str | None, Form(description="an archive's entry file; default [tool.optbox] entry in its pyproject.toml, else main.py")] = None,
    activate: Annotated[str | None, Form(description="true/false: make it its type's active model; default OPTBOX_UPLOAD_ACTIVATES (true). "
                                                     "false: a candidate, run by modelId, promoted by POST /models/{id}/activate")] = None,
) -> UploadResponse:
    model_type = parse_model_type(modelType)
    activates = form_flag("activate", activate, facade.settings.upload_activates)
    data = await read_bounded(file, facade.settings.max_upload_bytes)
    model = await register_model(facade, session, filename=file.filename, data=data, model_type=model_type, description=description,
                                 actor=who, activate=activates, entry=entry or None)
    label = f"{model.model_name} v{model.version}"
    if not activates:
        return UploadResponse(model=ModelOut.model_validate(model), active=False,
                              message=f"{label} uploaded as a candidate: run it by modelId; POST /models/{model.id}/activate makes it active")
    return UploadResponse(model=ModelOut.model_validate(model), active=True,
                          message=f"{label} uploaded and active{await mismatch_note(session, model)}")


@router.get("/models", response_model=ModelsResponse)
async def list_models(session: SessionDep, _: Viewer, type: str | None = None, status: str | None = None) -> ModelsResponse:
    model_type = parse_model_type(type).value if type else None
    models = await catalog.list_models(session, model_type, status)
    last = await catalog.last_runs(session, [model.id for model in models])
    return ModelsResponse(
        models=[
            ModelWithRuns.model_validate(model).model_copy(update={"last_run": JobSummary.model_validate(last[model.id]) if model.id in last else None})
            for model in models
        ],
        counts=await catalog.counts_by_type(session),
    )


@router.delete("/models")
async def delete_model(facade: FacadeDep, session: SessionDep, who: Admin, id: IdQuery, hard: bool = False) -> dict:
    outcome = await archive_or_delete_model(facade, session, id, hard, who)
    return {"success": True, "id": id, "status": outcome}


@router.post("/models/{model_id}/activate", response_model=UploadResponse)
async def activate_model(session: SessionDep, who: Admin, model_id: IdPath) -> UploadResponse:
    model = await activate_version(session, model_id, who)
    return UploadResponse(model=ModelOut.model_validate(model), active=True,
                          message=f"{model.model_name} v{model.version} is the active {model.model_type} model{await mismatch_note(session, model)}")


@router.get("/models/{model_id}/lock", response_model=ModelLockResponse, response_model_by_alias=True)
async def model_lock(session: SessionDep, _: Viewer, model_id: IdPath, against: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None) -> ModelLockResponse:
    """The version's dependency lock; with `against`, each package whose pin differs from that version's."""
    model = await _model_or_404(session, model_id)
    lock = model.dependency_lock or ""
    changes = None
    if against is not None:
        other = await _model_or_404(session, against)
        changes = {name: LockDiff(from_=change["from"], to=change["to"])
                   for name, change in environments.lock_diff(other.dependency_lock, lock).items()}
    return ModelLockResponse(model_id=model.id, lock_sha256=model.lock_sha256, lock=lock, packages=environments.pinned(lock),
                             against=against, changes=changes)


async def _model_or_404(session: SessionDep, model_id: int):
    model = await catalog.get_model(session, model_id)
    if model is None:
        raise ApiError(404, f"model {model_id} not found")
    return model
