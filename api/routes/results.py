"""Results read back: a tabular result's preview (table head and chart series) and the run's Excel report."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.auth import Viewer
from api.deps import FacadeDep
from api.results import XLSX_MEDIA_TYPE, preview_result, run_report
from api.schemas import ResultPreview

router = APIRouter(prefix="/api/optimization", tags=["results"])


@router.get("/jobs/{job_id}/previews/{name:path}", response_model=ResultPreview)
async def result_preview(facade: FacadeDep, _: Viewer, job_id: str, name: str) -> Response:
    """200 even for a file that does not read (kind "error") or is too large to chart (kind "too_large")."""
    # the preview is validated and encoded once, where it is computed; the cached bytes are served as they are
    return Response(await preview_result(facade.db, facade.files, facade.results, job_id, name), media_type="application/json")


@router.get("/jobs/{job_id}/report.xlsx", response_class=Response,
            responses={200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "Summary, one sheet per tabular result, Log"}})
async def job_report(facade: FacadeDep, _: Viewer, job_id: str) -> Response:
    workbook = await run_report(facade.db, facade.files, facade.results, job_id)
    return Response(workbook, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": f'attachment; filename="{job_id}-report.xlsx"'})
