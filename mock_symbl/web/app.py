"""The ASGI app: routes only (streaming WebSocket, Conversation API, auth, health)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from harness import __version__
from mock_symbl.session.faults import FaultBoard
from mock_symbl.store import Store
from mock_symbl.web.api_pages import install_api_pages
from mock_symbl.web.async_api import MEDIA_UPLOADS, install_async_api
from mock_symbl.web.auth import Authority
from mock_symbl.web.config import MockConfig, MockConfigError
from mock_symbl.web.control import control
from mock_symbl.web.conversation_api import conversation_api
from mock_symbl.web.conversation_writes import conversation_writes
from mock_symbl.web.entities_api import entities_api
from mock_symbl.web.experience import experience
from mock_symbl.web.journal import JournalRest
from mock_symbl.web.limits import BodyLimit, ConnectionIdLimit, FailureThrottle, RateLimiter
from mock_symbl.web.manage import manage
from mock_symbl.web.outbox import ExposeTransport
from mock_symbl.web.rest import (
    ApiError,
    RecordedAnswer,
    api,
    api_error_response,
    recorded_answer_response,
)
from mock_symbl.web.telephony import install as install_telephony
from mock_symbl.web.ws import StreamingEndpoint


def _open_store(path: Path | None) -> Store:
    """The conversations' database, its abandoned sessions ended; MockConfigError naming the
    file when it cannot be used (a folder that does not exist, a file that is no database)."""
    try:
        store = Store(path)
        store.end_abandoned()
    except (sqlite3.Error, OSError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise MockConfigError(f"db: cannot use {path} as the database: {reason}") from None
    return store


def create_app(config: MockConfig | None = None) -> FastAPI:
    """Build the server's ASGI app."""
    config = config or MockConfig()
    store = _open_store(config.db)
    authority = Authority(store, config.apps, config.token_lifetime_s)
    faults = FaultBoard(config.faults)
    streaming = StreamingEndpoint(store, authority, config, faults)
    app = FastAPI(title="mock_symbl", version=__version__, docs_url=None, redoc_url=None)
    app.state.store = store
    app.state.authority = authority
    app.state.rate_limiter = (
        RateLimiter(config.requests_per_minute) if config.requests_per_minute else None
    )
    app.state.token_throttle = (
        FailureThrottle(config.token_failures_per_minute)
        if config.token_failures_per_minute
        else None
    )
    app.state.open_control = config.open_control
    app.state.streaming = streaming
    app.state.faults = faults
    app.state.journal = streaming.journal
    # Innermost, so its 413 still gets the CORS headers a browser needs to read it.
    app.add_middleware(JournalRest, journal=streaming.journal)
    app.add_middleware(
        BodyLimit,
        max_bytes=config.max_body_bytes,
        larger=(MEDIA_UPLOADS, config.max_media_bytes),
    )
    app.add_middleware(ConnectionIdLimit, max_chars=config.max_connection_id_chars)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Retry-After"],
    )
    app.add_middleware(ExposeTransport)
    app.add_exception_handler(ApiError, api_error_response)
    app.add_exception_handler(RecordedAnswer, recorded_answer_response)
    app.include_router(api)
    app.include_router(conversation_api)
    app.include_router(control)
    app.include_router(manage)
    app.include_router(conversation_writes)
    install_async_api(app)
    app.include_router(entities_api)
    app.include_router(experience)
    install_api_pages(app)

    @app.get("/")
    def health() -> dict[str, str]:
        return {"name": "mock_symbl", "version": __version__}

    app.add_api_websocket_route("/v1/streaming/{connection_id}", streaming)
    app.add_api_websocket_route("/v1/realtime/insights/{connection_id}", streaming)
    app.add_api_websocket_route("/v1/subscribe/{connection_id}", streaming.subscribe)
    install_telephony(app, streaming, config)
    return app
