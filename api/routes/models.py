"""Models: upload (a new version per name), list, activate, archive, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from api.auth import Admin, Uploader, Viewer
from api.deps import FacadeDep, IdPath, IdQuery, SessionDep
from api.errors import ApiError
from api.registry import activate, archive_or_delete_model, register_model
from api.schemas import JobSummary, ModelOut, ModelsResponse, ModelWithRuns, UploadResponse
from optbox.protocol import ModelType
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


@router.post("/upload", status_code=201, response_model=UploadResponse)
async def upload_model(
    facade: FacadeDep, session: SessionDep, who: Uploader,
    file: Annotated[UploadFile, File(description="the model, a .py file")],
    modelType: Annotated[str, Form()],
    description: Annotated[str | None, Form()] = None,
) -> UploadResponse:
    model_type = parse_model_type(modelType)
    data = await read_bounded(file, facade.settings.max_upload_bytes)
    model = await register_model(facade, session, filename=file.filename, data=data, model_type=model_type, description=description,
                                 actor=who)
    return UploadResponse(model=ModelOut.model_validate(model), message=f"{model.model_name} v{model.version} uploaded and active")


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
    model = await activate(session, model_id, who)
    return UploadResponse(model=ModelOut.model_validate(model), message=f"{model.model_name} v{model.version} is the active {model.model_type} model")
