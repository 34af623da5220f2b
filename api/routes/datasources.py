"""Input datasets (CSV/XLSX) for a model type; the newest is used when a run names none."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from api.auth import Uploader, Viewer
from api.deps import FacadeDep, SessionDep
from api.registry import register_dataset
from api.routes.models import parse_model_type, read_bounded
from api.schemas import DatasetOut, DatasetResponse, DatasetsResponse
from storage import catalog

router = APIRouter(prefix="/api/optimization", tags=["datasources"])


@router.post("/datasources", status_code=201, response_model=DatasetResponse)
async def upload_dataset(
    facade: FacadeDep, session: SessionDep, who: Uploader,
    file: Annotated[UploadFile, File(description="a .csv or .xlsx file")],
    modelType: Annotated[str, Form()],
    description: Annotated[str | None, Form()] = None,
) -> DatasetResponse:
    model_type = parse_model_type(modelType)
    data = await read_bounded(file, facade.settings.max_upload_bytes)
    dataset = await register_dataset(facade, session, filename=file.filename, data=data, model_type=model_type, description=description,
                                     actor=who)
    return DatasetResponse(dataSource=DatasetOut.model_validate(dataset))


@router.get("/datasources", response_model=DatasetsResponse)
async def list_datasets(session: SessionDep, _: Viewer, type: str | None = None) -> DatasetsResponse:
    model_type = parse_model_type(type).value if type else None
    return DatasetsResponse(dataSources=[DatasetOut.model_validate(d) for d in await catalog.list_datasets(session, model_type)])
