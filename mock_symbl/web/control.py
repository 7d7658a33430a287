"""The mock's own routes (`/v1/mock/…`): fault plans, and what it observed of clients."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mock_symbl.session.faults import FaultBoard, FaultError, Faults
from mock_symbl.web.rest import ApiError, json_object
from mock_symbl.web.ws import StreamingEndpoint

control = APIRouter(prefix="/v1/mock")


def _board(request: Request) -> FaultBoard:
    board: FaultBoard = request.app.state.faults
    return board


@control.get("/faults")
def get_faults(request: Request) -> dict[str, Any]:
    return _board(request).to_json()


@control.post("/faults")
async def set_faults(request: Request) -> dict[str, Any]:
    """Put a plan in force: `{"connectionId": …}` for one connection id, else for every session."""
    body = await json_object(request)
    connection_id = body.pop("connectionId", None)
    if connection_id is not None and not isinstance(connection_id, str):
        raise ApiError(400, "connectionId must be a string.")
    try:
        faults = Faults.from_json(body)
    except FaultError as error:
        raise ApiError(400, f"Invalid fault: {error}") from None
    _board(request).set(faults, connection_id)
    return _board(request).to_json()


@control.delete("/faults")
def clear_faults(request: Request) -> dict[str, Any]:
    _board(request).clear()
    return _board(request).to_json()


@control.get("/sessions/{connection_id}/conformance")
def get_conformance(connection_id: str, request: Request) -> dict[str, Any]:
    """What the latest client streaming under this connection id does wrong."""
    streaming: StreamingEndpoint = request.app.state.streaming
    report = streaming.conformance.report(connection_id)
    if report is None:
        raise ApiError(404, f"No streaming session with connection id {connection_id!r} was seen.")
    return report
