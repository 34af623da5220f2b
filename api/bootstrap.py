"""First start: the shipped samples become the active DMO/RMO/SO models, with their input data,
so scheduled runs work out of the box. Runs only when no model is registered yet."""

from __future__ import annotations

import logging

from api.auth import SYSTEM
from api.context import Facade
from api.registry import register_dataset, register_model
from optbox.protocol import ModelType
from optbox.settings import PROJECT_DIR
from storage import catalog

log = logging.getLogger(__name__)

SAMPLES_DIR = PROJECT_DIR / "samples"
SAMPLES = {
    ModelType.DMO: ("dmo_day_ahead.py", "dmo_prices.csv", "Day-ahead bids and schedule for 96 blocks (LP, HiGHS)"),
    ModelType.RMO: ("rmo_redispatch.py", "rmo_realtime.csv", "Real-time re-dispatch for the next 30 minutes (LP, HiGHS)"),
    ModelType.SO: ("so_battery.py", "so_prices.csv", "Battery arbitrage with state of charge (LP, HiGHS)"),
}


async def register_samples(facade: Facade) -> int:
    async with facade.db.session() as session:
        if await catalog.list_models(session, status=None):
            return 0
        for model_type, (model_file, data_file, description) in SAMPLES.items():
            model_path, data_path = SAMPLES_DIR / model_file, SAMPLES_DIR / "data" / data_file
            await register_dataset(facade, session, filename=data_path.name, data=data_path.read_bytes(), model_type=model_type,
                                   description="sample input (generated series)", actor=SYSTEM)
            await register_model(facade, session, filename=model_path.name, data=model_path.read_bytes(), model_type=model_type,
                                 description=description, actor=SYSTEM)
    log.info("registered the sample DMO, RMO and SO models as active")
    return len(SAMPLES)
