"""The Management API's trackers: an app's named phrase sets, kept in the store.

`POST /v1/manage/tracker` creates one, `POST /v1/manage/trackers` several at once (all or
none), `GET /v1/manage/trackers[?name=]` lists them, `GET|PUT|DELETE
/v1/manage/tracker/{id}` reads, updates and deletes one. A streaming conversation started
with `config.trackers.enableAllTrackers` runs with all of them.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from mock_symbl.session.trackers import (
    MAX_TRACKERS,
    TrackerDefinitionError,
    definition,
    merged,
    tracker_name,
    vocabulary,
)
from mock_symbl.store import Store, StoredTracker, TrackerLimitError, TrackerNameTakenError
from mock_symbl.web.auth import App
from mock_symbl.web.rest import ApiError, current_app, json_body, json_object

manage = APIRouter()
Caller = Annotated[App, Depends(current_app)]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _new_id() -> str:
    """A 16-digit numeric id, as Symbl's tracker ids are."""
    return str(10**15 + secrets.randbelow(9 * 10**15))


def tracker_json(tracker: StoredTracker) -> dict[str, Any]:
    """A tracker as the Management API answers with it."""
    return {"id": tracker.id, "name": tracker.name, "vocabulary": list(tracker.vocabulary)}


def _not_found(tracker_id: str) -> ApiError:
    return ApiError(404, f"Tracker with id {tracker_id} does not exist.")


def _taken(name: str) -> ApiError:
    return ApiError(409, f"A tracker named {name!r} already exists.")


def _create(request: Request, app: App, bodies: list[Any], where: str) -> list[StoredTracker]:
    trackers = []
    for index, body in enumerate(bodies):
        path = f"{where}[{index}]" if where else ""
        try:
            name, phrases = definition(body, path)
        except TrackerDefinitionError as error:
            raise ApiError(400, str(error)) from None
        trackers.append(StoredTracker(_new_id(), name, phrases))
    try:
        _store(request).create_trackers(app.key, trackers, MAX_TRACKERS)
    except TrackerNameTakenError as error:
        raise _taken(error.name) from None
    except TrackerLimitError:
        raise ApiError(400, f"An account holds at most {MAX_TRACKERS} trackers.") from None
    return trackers


@manage.post("/v1/manage/tracker")
async def create_tracker(request: Request, app: Caller) -> dict[str, Any]:
    body = await json_object(request)
    (tracker,) = _create(request, app, [body], "")
    return {"tracker": tracker_json(tracker)}


@manage.post("/v1/manage/trackers")
async def create_trackers(request: Request, app: Caller) -> dict[str, Any]:
    """Bulk create: a JSON array of trackers (a single object is taken as one)."""
    body = await json_body(request)
    bodies = body if isinstance(body, list) else [body]
    if not bodies:
        raise ApiError(400, "The request body must list at least one tracker.")
    return {"trackers": [tracker_json(t) for t in _create(request, app, bodies, "trackers")]}


@manage.get("/v1/manage/trackers")
def list_trackers(request: Request, app: Caller) -> dict[str, Any]:
    unknown = sorted(set(request.query_params) - {"name"})
    if unknown:
        raise ApiError(400, f"Unknown query parameter {unknown[0]!r}; this route takes 'name'.")
    # An empty `name=` filters nothing, as no name at all does.
    name = request.query_params.get("name") or None
    return {"trackers": [tracker_json(t) for t in _store(request).trackers(app.key, name)]}


@manage.get("/v1/manage/tracker/{tracker_id}")
def get_tracker(tracker_id: str, request: Request, app: Caller) -> dict[str, Any]:
    tracker = _store(request).tracker(app.key, tracker_id)
    if tracker is None:
        raise _not_found(tracker_id)
    return {"tracker": tracker_json(tracker)}


@manage.put("/v1/manage/tracker/{tracker_id}")
async def update_tracker(tracker_id: str, request: Request, app: Caller) -> dict[str, Any]:
    """Rename a tracker and add phrases to it: the new phrases come first, then those it
    had (Symbl's documented answer lists them so)."""
    body = await json_object(request)
    store = _store(request)
    known = store.tracker(app.key, tracker_id)
    if known is None:
        raise _not_found(tracker_id)
    given_id = body.get("id", tracker_id)
    # Ids are strings; a client that sends the number it read means the same tracker.
    if str(given_id) != tracker_id:
        raise ApiError(400, f"id {given_id!r} in the body is not the tracker {tracker_id}.")
    unknown = sorted(set(body) - {"id", "name", "vocabulary"})
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field; a tracker has id, name, vocabulary.")
    try:
        name = tracker_name(body["name"], "name") if "name" in body else known.name
        added = vocabulary(body["vocabulary"], "vocabulary") if "vocabulary" in body else ()
        phrases = merged(added, known.vocabulary)
    except TrackerDefinitionError as error:
        raise ApiError(400, str(error)) from None
    updated = StoredTracker(tracker_id, name, phrases)
    try:
        found = store.update_tracker(app.key, updated)
    except TrackerNameTakenError as error:
        raise _taken(error.name) from None
    if not found:
        raise _not_found(tracker_id)
    return {"tracker": tracker_json(updated)}


@manage.delete("/v1/manage/tracker/{tracker_id}")
def delete_tracker(tracker_id: str, request: Request, app: Caller) -> dict[str, Any]:
    if not _store(request).delete_tracker(app.key, tracker_id):
        raise _not_found(tracker_id)
    return {"id": tracker_id, "type": "tracker", "deleted": True}
