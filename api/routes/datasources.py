"""Input datasets (CSV/XLSX) for a model type; the type's active one is used when a run names none."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from api.auth import Operator, Uploader, Viewer
from api.deps import FacadeDep, IdPath, SessionDep
from api.registry import activate_dataset, register_dataset
from api.routes.models import form_flag, parse_model_type, read_bounded
from api.schemas import DatasetOut, DatasetResponse, DatasetsResponse
from storage import catalog

router = APIRouter(prefix="/api/optimization", tags=["datasources"])


@router.post("/datasources", status_code=201, response_model=DatasetResponse)
async def upload_dataset(
    facade: FacadeDep, session: SessionDep, who: Uploader,
    file: Annotated[UploadFile, File(description="a .csv or .xlsx file")],
    modelType: Annotated[str, Form()],
    description: Annotated[str | None, Form()] = None,
    activate: Annotated[str | None, Form(description="true/false: make it the dataset its type's runs read when they name none; "
                                                     "default OPTBOX_UPLOAD_ACTIVATES (true)")] = None,
) -> DatasetResponse:
    model_type = parse_model_type(modelType)
    activates = form_flag("activate", activate, facade.settings.upload_activates)
    data = await read_bounded(file, facade.settings.max_upload_bytes)
    dataset = await register_dataset(facade, session, filename=file.filename, data=data, model_type=model_type, description=description,
                                     actor=who, activate=activates)
    return DatasetResponse(dataSource=DatasetOut.model_validate(dataset))


@router.post("/datasources/{dataset_id}/activate", response_model=DatasetResponse)
async def activate(session: SessionDep, who: Operator, dataset_id: IdPath) -> DatasetResponse:
    """Make the dataset the one its type's runs (scheduled ones included) read when they name none; audited."""
    return DatasetResponse(dataSource=DatasetOut.model_validate(await activate_dataset(session, dataset_id, who)))


@router.get("/datasources", response_model=DatasetsResponse)
async def list_datasets(session: SessionDep, _: Viewer, type: str | None = None) -> DatasetsResponse:
    model_type = parse_model_type(type).value if type else None
    return DatasetsResponse(dataSources=[DatasetOut.model_validate(d) for d in await catalog.list_datasets(session, model_type)])
