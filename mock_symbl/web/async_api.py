"""The Async API: files, URLs and text in, a job that fills a conversation, the Job API.

`POST /v1/process/{audio,video}` take the file as the body, `.../url` a JSON body with a
`url`, `/v1/process/text` JSON `messages`; each answers `{conversationId, jobId}` at
once, and the `PUT .../{conversationId}` forms append to a conversation the app owns.
A job runs in the background: `scheduled` until it may start (one job at a time per
conversation), `in_progress` while the file is fetched, decoded and recognised on the
recognition threads (one file at a time, a stretch per call, so live streams keep their
share), then `completed` or `failed` with a message. Only this machine is
reached: URLs and webhooks must be loopback (or `file://` for a source).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote, urlsplit

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request

from mock_symbl.session import messages as wire
from mock_symbl.session.jobs import (
    ABANDONED,
    FRAMES_PER_CALL,
    UNFINISHED,
    AudioRecognition,
    Built,
    JobConversation,
    JobFailedError,
    JobOptions,
    JobRequestError,
    JobStatus,
    Recognition,
    TextMessage,
    job_json,
    job_options,
    media_source,
    next_status,
    recognise_text,
    text_messages,
)
from mock_symbl.store import Conversation, Store, StoredJob
from mock_symbl.web.auth import App
from mock_symbl.web.media import MediaError, decode_audio, media_type_problem
from mock_symbl.web.rest import NOT_FOUND, ApiError, current_app, json_object
from mock_symbl.web.ws import RECOGNITION, StreamingEndpoint, persist

log = logging.getLogger("mock_symbl")
JOB_NOT_FOUND = "The jobId is either invalid or does not exist."
# A fetched file may be larger than a request body, not without bound.
MAX_FETCH_BYTES = 512 << 20
FETCH_TIMEOUT_S = 60.0
WEBHOOK_TIMEOUT_S = 10.0
T = TypeVar("T")
# The routes whose body is a media file (not a JSON `url`), allowed more than other bodies.
MEDIA_UPLOADS = re.compile(r"/v1/process/(audio|video)(/(?!url(/|$))[^/]+)?")

async_api = APIRouter()
CurrentApp = Annotated[App, Depends(current_app)]


@dataclass(frozen=True, slots=True)
class Source:
    """What a job works on: an uploaded file, a URL to fetch, or text messages."""

    data: bytes | None = None
    url: str | None = None
    text: Sequence[TextMessage] = ()


@dataclass(frozen=True, slots=True)
class Run:
    """One job: whose, on what, as asked, for which conversation."""

    job_id: str
    app: App
    source: Source
    options: JobOptions
    conversation_id: str


def _now() -> datetime:
    return datetime.now(UTC)


class AsyncJobs:
    """Runs the Async API's jobs, each in a task of its own, and keeps their statuses."""

    def __init__(self, store: Store, streaming: StreamingEndpoint) -> None:
        self.store = store
        self.streaming = streaming
        self._tasks: set[asyncio.Task[None]] = set()
        # One job at a time per conversation: its lock, and how many jobs hold or await it.
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}
        self._recognising = asyncio.Semaphore(1)

    def submit(
        self,
        app: App,
        source: Source,
        options: JobOptions,
        conversation_id: str | None = None,
    ) -> dict[str, str]:
        """Schedule a job for a new conversation (or `conversation_id`'s); its answer."""
        ids = self.streaming.ids
        if conversation_id is None:
            conversation_id = ids.conversation_id()
            start = next((m.start for m in source.text if m.start is not None), None) or _now()
            self.store.create_conversation(
                Conversation(
                    id=conversation_id,
                    app_key=app.key,
                    connection_id=options.name or conversation_id,
                    name=options.name or conversation_id,
                    start_time=wire.iso(start),
                    end_time=None,
                )
            )
        elif options.name:
            self.store.name_conversation(conversation_id, options.name)
        job_id = ids.uuid()
        self.store.add_job(
            StoredJob(job_id, app.key, conversation_id, JobStatus.SCHEDULED, None, _iso_now())
        )
        task = asyncio.create_task(self._run(Run(job_id, app, source, options, conversation_id)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {"conversationId": conversation_id, "jobId": job_id}

    async def _run(self, run: Run) -> None:
        """Wait for the conversation's earlier jobs, then do this one, start to finish."""
        lock, waiting = self._turns.get(run.conversation_id, (asyncio.Lock(), 0))
        self._turns[run.conversation_id] = (lock, waiting + 1)
        status = JobStatus.SCHEDULED
        try:
            async with lock:
                try:
                    status = await self._move(run, status, JobStatus.IN_PROGRESS)
                    await _off_loop(self._keep, await self._work(run))
                    await self._move(run, status, JobStatus.COMPLETED)
                except (JobFailedError, MediaError) as error:
                    await self._fail(run, status, str(error))
                except Exception as error:
                    log.exception("async job %s failed", run.job_id)
                    reason = f"The server could not process the file ({type(error).__name__})."
                    await self._fail(run, status, reason)
        finally:
            lock, waiting = self._turns[run.conversation_id]
            if waiting > 1:
                self._turns[run.conversation_id] = (lock, waiting - 1)
            else:
                del self._turns[run.conversation_id]

    async def _work(self, run: Run) -> Built:
        app, source, options = run.app, run.source, run.options
        stored = self.store.conversation(run.conversation_id, app.key)
        if stored is None:
            raise JobFailedError("The conversation was deleted before the job could start.")
        conversation = JobConversation.existing(
            conversation_id=stored.id,
            app_key=app.key,
            started=datetime.fromisoformat(stored.start_time.replace("Z", "+00:00")),
            messages=self.store.messages(stored.id),
            topics=self.store.topics(stored.id),
            members=stored.members,
        )
        # The engine is chosen by name as a streaming connection's is by its id; an append
        # keeps the conversation's unless it names another.
        recognition = Recognition(
            self.streaming.engines.for_request,
            self.streaming.ids,
            options.name or stored.connection_id,
            lambda: self.store.trackers(stored.app_key),
        )
        if source.text:
            return await _off_loop(recognise_text, source.text, options, conversation, recognition)
        data = source.data if source.url is None else await fetch(source.url)
        assert data is not None
        audio = await _off_loop(decode_audio, data)
        # One file at a time, a stretch per call: live streams keep their share of the
        # recognition threads whatever files are queued.
        async with self._recognising:
            heard = await _off_loop(
                AudioRecognition,
                audio.samples,
                audio.sample_rate,
                options,
                conversation,
                recognition,
            )
            while not heard.done:
                await _off_loop(heard.feed, FRAMES_PER_CALL)
            return await _off_loop(heard.finish)

    def _keep(self, built: Built) -> None:
        for output in built.outputs:
            persist(self.store, output)

    async def _move(self, run: Run, current: JobStatus, new: JobStatus) -> JobStatus:
        status = next_status(current, new)
        self.store.update_job(run.job_id, status, _iso_now(), None)
        await notify(run.options.webhook_url, run.job_id, status)
        return status

    async def _fail(self, run: Run, current: JobStatus, reason: str) -> None:
        status = next_status(current, JobStatus.FAILED)
        self.store.update_job(run.job_id, status, _iso_now(), reason)
        stored = self.store.conversation(run.conversation_id, run.app.key)
        # A new conversation whose only job failed holds nothing: it ends where it began.
        if stored is not None and stored.end_time is None and not self.store.messages(stored.id):
            self.store.end_conversation(stored.id, stored.start_time)
        await notify(run.options.webhook_url, run.job_id, status)


def _iso_now() -> str:
    return wire.iso(_now())


async def _off_loop(function: Callable[..., T], *args: Any) -> T:
    """Run CPU work (decoding, recognition, storing) on the recognition threads."""
    return await asyncio.get_running_loop().run_in_executor(RECOGNITION, function, *args)


async def fetch(url: str) -> bytes:
    """The file a source URL names (loopback http(s), or file://); JobFailedError if it
    cannot be had."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        try:
            return await _off_loop(_read_file, path)
        except OSError as error:
            raise JobFailedError(f"Could not read {url}: {error.strerror or error}.") from None
    try:
        async with (
            httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.is_redirect:
                raise JobFailedError(f"{url} redirects; give the file's own URL.")
            if response.status_code != 200:
                raise JobFailedError(f"Fetching {url} answered HTTP {response.status_code}.")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_FETCH_BYTES:
                    raise JobFailedError(f"{url} is larger than {MAX_FETCH_BYTES >> 20} MiB.")
            return bytes(body)
    except httpx.HTTPError as error:
        raise JobFailedError(f"Could not fetch {url}: {error or type(error).__name__}.") from None


def _read_file(path: Path) -> bytes:
    if path.stat().st_size > MAX_FETCH_BYTES:
        raise JobFailedError(f"{path} is larger than {MAX_FETCH_BYTES >> 20} MiB.")
    return path.read_bytes()


async def notify(webhook_url: str | None, job_id: str, status: JobStatus) -> None:
    """Tell the webhook a job's new status (`{jobId, status}`); a webhook that fails is
    logged, and the job goes on."""
    if webhook_url is None:
        return
    try:
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S, follow_redirects=False) as client:
            await client.post(webhook_url, json={"jobId": job_id, "status": status.value})
    except httpx.HTTPError as error:
        log.warning("webhook for job %s (%s) failed: %s", job_id, status.value, error)


def _jobs(request: Request) -> AsyncJobs:
    jobs: AsyncJobs = request.app.state.async_jobs
    return jobs


Jobs = Annotated[AsyncJobs, Depends(_jobs)]


def _params(request: Request, body: Mapping[str, Any] | None = None, *skip: str) -> JobOptions:
    """The options of a request: its query parameters and its JSON body's other fields."""
    params: dict[str, list[Any]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    for name, value in (body or {}).items():
        if name not in skip:
            params.setdefault(name, []).append(value)
    try:
        return job_options(params)
    except JobRequestError as error:
        raise ApiError(400, str(error)) from None


def _appended(jobs: AsyncJobs, app: App, conversation_id: str | None) -> str | None:
    """The conversation a PUT appends to: the app's, and not one a socket still streams to
    (its live messages and a job's would interleave)."""
    if conversation_id is None:
        return None
    if jobs.store.conversation(conversation_id, app.key) is None:
        raise ApiError(404, NOT_FOUND)
    live = list(jobs.streaming.conversations.values())
    if any(c.id == conversation_id and c.app_key == app.key for c in live):
        raise ApiError(
            400, "The conversation is still streaming; append to it once its socket has ended."
        )
    return conversation_id


async def _from_json(
    request: Request,
    jobs: AsyncJobs,
    app: App,
    field: str,
    source: Callable[[dict[str, Any]], Source],
) -> dict[str, str]:
    """Submit a job whose source is read from a JSON body (`field` is no option)."""
    body = await json_object(request)
    options = _params(request, body, field)
    try:
        found = source(body)
    except JobRequestError as error:
        raise ApiError(400, str(error)) from None
    return jobs.submit(app, found, options, _appended(jobs, app, _appending(request)))


def _appending(request: Request) -> str | None:
    """The conversation a `PUT …/{conversation_id}` names; None for a POST."""
    conversation_id: str | None = request.path_params.get("conversation_id")
    return conversation_id


# Each handler serves both forms: the POST that starts a conversation and the PUT that
# appends to the one its path names.
@async_api.post("/v1/process/audio")
@async_api.post("/v1/process/video")
@async_api.put("/v1/process/audio/{conversation_id}")
@async_api.put("/v1/process/video/{conversation_id}")
async def process_file(request: Request, jobs: Jobs, app: CurrentApp) -> dict[str, str]:
    """Process an audio or video file sent as the body."""
    options = _params(request)
    problem = media_type_problem(request.headers.get("content-type"))
    if problem is not None:
        raise ApiError(400, problem)
    data = await request.body()
    if not data:
        raise ApiError(400, "The request body is empty; send the file's bytes as the body.")
    return jobs.submit(app, Source(data=data), options, _appended(jobs, app, _appending(request)))


@async_api.post("/v1/process/audio/url")
@async_api.post("/v1/process/video/url")
@async_api.put("/v1/process/audio/url/{conversation_id}")
@async_api.put("/v1/process/video/url/{conversation_id}")
async def process_url(request: Request, jobs: Jobs, app: CurrentApp) -> dict[str, str]:
    """Process the audio or video file at `url`."""
    return await _from_json(
        request, jobs, app, "url", lambda body: Source(url=media_source(body.get("url")))
    )


@async_api.post("/v1/process/text")
@async_api.put("/v1/process/text/{conversation_id}")
async def process_text(request: Request, jobs: Jobs, app: CurrentApp) -> dict[str, str]:
    """Process text `messages`."""
    return await _from_json(
        request, jobs, app, "messages", lambda body: Source(text=text_messages(body))
    )


@async_api.get("/v1/job/{job_id}")
def get_job(job_id: str, jobs: Jobs, app: CurrentApp) -> dict[str, Any]:
    """A job's status (and, once failed, why)."""
    job = jobs.store.job(job_id, app.key)
    if job is None:
        raise ApiError(404, JOB_NOT_FOUND)
    return job_json(job.id, job.status, job.message)


def install_async_api(app: FastAPI) -> None:
    """Serve the Async API on `app` (after its store and streaming endpoint are set); jobs
    left unfinished by a server that is gone are failed, saying so."""
    store: Store = app.state.store
    store.fail_abandoned_jobs([s.value for s in UNFINISHED], ABANDONED, _iso_now())
    app.state.async_jobs = AsyncJobs(store, app.state.streaming)
    app.include_router(async_api)
