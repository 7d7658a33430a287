"""The mock's own routes (`/v1/mock/…`): fault plans, the journal of connections, and what
it observed of clients.

Each call carries an access token, as the API's do, and acts for that app alone: its plans
apply to its own sessions. With `MockConfig.open_control` (local use) no token is asked and
plans apply to every app's sessions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from mock_symbl.session.faults import FaultBoard, FaultError, Faults
from mock_symbl.web.journal import Journal
from mock_symbl.web.rest import ApiError, current_app, json_object
from mock_symbl.web.ws import StreamingEndpoint


def controller(request: Request) -> str | None:
    """The key of the app a control call acts for; None (every app) when control is open."""
    if request.app.state.open_control:
        return None
    return current_app(request).key


Controller = Annotated[str | None, Depends(controller)]
control = APIRouter(prefix="/v1/mock")


def _board(request: Request) -> FaultBoard:
    board: FaultBoard = request.app.state.faults
    return board


@control.get("/faults")
def get_faults(request: Request, app: Controller) -> dict[str, Any]:
    return _board(request).to_json(app)


@control.post("/faults")
async def set_faults(request: Request, app: Controller) -> dict[str, Any]:
    """Put a plan in force: `{"connectionId": …}` for one connection id, else for every session."""
    body = await json_object(request)
    connection_id = body.pop("connectionId", None)
    if connection_id is not None and not isinstance(connection_id, str):
        raise ApiError(400, "connectionId must be a string.")
    try:
        faults = Faults.from_json(body)
    except FaultError as error:
        raise ApiError(400, f"Invalid fault: {error}") from None
    _board(request).set(faults, connection_id, app)
    return _board(request).to_json(app)


@control.delete("/faults")
def clear_faults(request: Request, app: Controller) -> dict[str, Any]:
    _board(request).clear(app)
    return _board(request).to_json(app)


@control.get("/sessions/{connection_id}/conformance")
def get_conformance(connection_id: str, request: Request, app: Controller) -> dict[str, Any]:
    """What the latest client streaming under this connection id does wrong."""
    streaming: StreamingEndpoint = request.app.state.streaming
    report = streaming.conformance.report(connection_id, app)
    if report is None:
        raise ApiError(404, f"No streaming session with connection id {connection_id!r} was seen.")
    return report


def _journal(request: Request) -> Journal:
    journal: Journal = request.app.state.journal
    return journal


@control.get("/sessions")
def get_sessions(request: Request, app: Controller) -> dict[str, Any]:
    """The journal: every streaming connection served (the latest 1,000), oldest first."""
    return _journal(request).to_json(app)


@control.delete("/sessions")
def clear_sessions(request: Request, app: Controller) -> dict[str, Any]:
    """Forget the journal's entries (this app's)."""
    _journal(request).clear(app)
    return _journal(request).to_json(app)
