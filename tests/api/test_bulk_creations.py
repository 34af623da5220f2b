"""Flow runs created in bulk (api/orchestrator.py on optbox.batching): what callers ask for while a request is
under way goes in the next one, and every caller gets an answer — its run, its own refusal, or the request's failure. A held
burst goes once it ends (or has waited its limit); a lone creation goes at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.server.schemas.actions import DeploymentFlowRunCreate as ServerDeploymentFlowRunCreate
from prefect.states import Scheduled, to_state_create

from api.orchestrator import BULK_LIMIT, RunCreation, RunRefused
from optbox.batching import Batches, Hold


def creation(n: int) -> RunCreation:
    return RunCreation(parameters={"n": n}, tags=[], job_variables=None, idempotency_key=str(n))


@pytest.mark.parametrize(("job_variables", "name"), [(None, None), ({"env": {"OPTBOX_FLOW_RETRIES": "0"}}, "SO · so_battery v3 · manual")])
def test_a_creations_body_is_what_prefects_client_would_send_and_its_server_reads_it_as_scheduled_now(job_variables, name):
    run = RunCreation(parameters={"model_type": "SO", "job_id": "so-1", "config": {"a": [1, 2]}, "data_source_id": None},
                      tags=["optbox", "SO"], job_variables=job_variables, idempotency_key="so-1", name=name)
    before = datetime.now(UTC)
    body = run.body()
    named = {"name": name} if name else {}
    prefects = DeploymentFlowRunCreate(parameters=run.parameters, tags=list(run.tags), job_variables=run.job_variables,
                                       idempotency_key=run.idempotency_key, state=to_state_create(Scheduled()),
                                       **named).model_dump(mode="json", exclude_unset=True)
    scheduled_at = body["state"]["state_details"].pop("scheduled_time")
    prefects["state"]["state_details"].pop("scheduled_time")
    assert body == prefects
    read = ServerDeploymentFlowRunCreate.model_validate({**body, "state": {**body["state"], "state_details": {"scheduled_time": scheduled_at}}})
    assert read.state.type.value == "SCHEDULED" and read.parameters == run.parameters and read.idempotency_key == "so-1"
    assert read.name == name or name is None  # unnamed: Prefect makes up a slug
    assert before <= read.state.state_details.scheduled_time <= datetime.now(UTC)


class Prefect:
    """Answers each request after `delay` (and once `gate` is open, when given), the way `answer` says."""

    def __init__(self, answer, delay: float = 0.05, gate: asyncio.Event | None = None) -> None:
        self.answer, self.delay, self.gate, self.requests = answer, delay, gate, []

    async def __call__(self, creations):
        self.requests.append([c.parameters["n"] for c in creations])
        await asyncio.sleep(self.delay)
        if self.gate:
            await self.gate.wait()
        return self.answer(creations)


async def test_what_is_asked_for_during_a_request_goes_in_the_next_and_each_caller_gets_its_own_answer():
    runs = {n: uuid.uuid4() for n in range(30)}
    first_answered = asyncio.Event()
    prefect = Prefect(lambda creations: [runs[c.parameters["n"]] if c.parameters["n"] != 7 else RunRefused("no 7") for c in creations],
                      gate=first_answered)
    bulk = Batches(prefect, BULK_LIMIT)
    first = asyncio.create_task(bulk.submit(creation(0)))
    while not prefect.requests:  # the first request is under way, held until the rest are asked for
        await asyncio.sleep(0)
    asked = asyncio.gather(*(bulk.submit(creation(n)) for n in range(1, 30)), return_exceptions=True)
    await asyncio.sleep(0)  # every submit above has run up to waiting for its answer
    first_answered.set()
    rest = await asked
    assert await first == runs[0]
    assert prefect.requests == [[0], list(range(1, 30))]
    assert isinstance(rest[6], RunRefused)
    assert [r for i, r in enumerate(rest, 1) if i != 7] == [runs[n] for n in range(1, 30) if n != 7]


@pytest.mark.parametrize("wrong", [lambda creations: [], lambda creations: 1 / 0], ids=["too_few_results", "request_failed"])
async def test_every_caller_gets_an_answer_when_a_request_goes_wrong_and_the_next_one_is_sent(wrong):
    answers = [wrong]
    prefect = Prefect(lambda creations: (answers.pop() if answers else lambda cs: [uuid.UUID(int=c.parameters["n"]) for c in cs])(creations))
    bulk = Batches(prefect, BULK_LIMIT)
    outcomes = await asyncio.wait_for(asyncio.gather(*(bulk.submit(creation(n)) for n in range(5)), return_exceptions=True), 5)
    assert all(isinstance(outcome, RuntimeError | ZeroDivisionError) for outcome in outcomes)
    assert await asyncio.wait_for(bulk.submit(creation(9)), 5) == uuid.UUID(int=9)


class Arrivals(Prefect):
    """Records, with each request, how many items had been submitted by then."""

    def __init__(self, submitted: list[int]) -> None:
        super().__init__(lambda creations: [uuid.UUID(int=c.parameters["n"]) for c in creations], delay=0)
        self.submitted, self.seen = submitted, []

    async def __call__(self, creations):
        self.seen.append(self.submitted[0])
        return await super().__call__(creations)


async def submit_spaced(bulk: Batches, count: int, gap_s: float, submitted: list[int]) -> list:
    """Submit `count` items `gap_s` apart, as a burst of requests would; every outcome, in order."""
    tasks = []
    for n in range(count):
        tasks.append(asyncio.create_task(bulk.submit(creation(n))))
        submitted[0] = n + 1
        await asyncio.sleep(gap_s)
    return await asyncio.wait_for(asyncio.gather(*tasks), 30)


async def test_a_held_burst_goes_in_one_request_after_it_ends_and_a_lone_item_goes_at_once():
    submitted = [0]
    prefect = Arrivals(submitted)
    bulk = Batches(prefect, BULK_LIMIT, hold=Hold(quiet_s=1.0, at_most_s=30))
    outcomes = await submit_spaced(bulk, 40, 0.002, submitted)
    assert outcomes == [uuid.UUID(int=n) for n in range(40)]
    # the first went alone at once; the 39 that followed it closely waited for the burst's end and went together
    assert prefect.requests == [[0], list(range(1, 40))] and prefect.seen == [1, 40]
    await asyncio.sleep(1.1)  # quiet: the next item is no longer part of a burst, and is not held the second a burst's are
    assert await asyncio.wait_for(bulk.submit(creation(99)), 0.9) == uuid.UUID(int=99)


async def test_a_burst_that_does_not_end_is_held_no_longer_than_its_limit():
    submitted = [0]
    prefect = Arrivals(submitted)
    bulk = Batches(prefect, BULK_LIMIT, hold=Hold(quiet_s=0.5, at_most_s=0.2))
    outcomes = await submit_spaced(bulk, 100, 0.01, submitted)  # a second of items, never quiet for 0.5 s
    assert outcomes == [uuid.UUID(int=n) for n in range(100)]
    assert sorted(n for request in prefect.requests for n in request) == list(range(100))
    assert min(prefect.seen[1:]) < 100  # held items were sent while items still came, not all after the last


async def test_without_a_hold_items_go_as_they_come():
    submitted = [0]
    prefect = Arrivals(submitted)
    await submit_spaced(Batches(prefect, BULK_LIMIT), 10, 0.002, submitted)
    assert prefect.requests == [[n] for n in range(10)]
