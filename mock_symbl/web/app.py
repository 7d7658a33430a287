"""The ASGI app: routes only (streaming WebSocket, Conversation API, auth, health)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from harness import __version__
from harness.modes import parse_mode
from mock_symbl.engines.names import Engine
from mock_symbl.engines.select import EngineChoice
from mock_symbl.session.faults import FaultBoard, Faults
from mock_symbl.session.ids import IdSource
from mock_symbl.store import Store
from mock_symbl.web.auth import Authority
from mock_symbl.web.control import control
from mock_symbl.web.limits import RateLimiter, StreamCounter
from mock_symbl.web.outbox import ExposeTransport
from mock_symbl.web.rest import ApiError, api, api_error_response
from mock_symbl.web.ws import StreamingEndpoint


@dataclass(frozen=True)
class MockConfig:
    """How the server runs: storage, engines, accepted apps, token lifetime, id seed."""

    db: Path | None = None
    engine: Engine | str = Engine.AUTO
    cassettes: tuple[Path, ...] = ()
    transcripts: tuple[Path, ...] = ()
    apps: Mapping[str, str] | None = None
    token_lifetime_s: int = 86400
    seed: int | None = None
    # Per app; None: unlimited. The hosted free plan allowed 5 concurrent streams.
    requests_per_minute: int | None = None
    max_streams: int | None = None
    # How long one write to a client may wait before the client counts as not reading.
    send_timeout_s: float = 10.0
    # A conversation with no audio for this long ends (the hosted service: 30 minutes).
    silence_timeout_s: float = 1800.0
    # An extension for measuring the measurer: every JSON frame carries `x_mock_sent_ns`.
    stamp_send_times: bool = False
    # Faults every session gets (the control route can change them while it runs).
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        """Hold the engine as an Engine; a name is checked (ModeError lists the valid ones)."""
        object.__setattr__(self, "engine", parse_mode(Engine, self.engine, "engine"))


def create_app(config: MockConfig | None = None) -> FastAPI:
    """Build the server's ASGI app."""
    config = config or MockConfig()
    store = Store(config.db)
    authority = Authority(store, config.apps, config.token_lifetime_s)
    faults = FaultBoard(config.faults)
    streaming = StreamingEndpoint(
        store,
        authority,
        EngineChoice(config.engine, config.cassettes, config.transcripts),
        IdSource(config.seed),
        StreamCounter(config.max_streams),
        send_timeout_s=config.send_timeout_s,
        silence_timeout_s=config.silence_timeout_s,
        stamp_send_times=config.stamp_send_times,
        faults=faults,
    )
    app = FastAPI(title="mock_symbl", version=__version__)
    app.state.store = store
    app.state.authority = authority
    app.state.rate_limiter = (
        RateLimiter(config.requests_per_minute) if config.requests_per_minute else None
    )
    app.state.streaming = streaming
    app.state.faults = faults
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Retry-After"],
    )
    app.add_middleware(ExposeTransport)
    app.add_exception_handler(ApiError, api_error_response)
    app.include_router(api)
    app.include_router(control)

    @app.get("/")
    def health() -> dict[str, str]:
        return {"name": "mock_symbl", "version": __version__}

    app.add_api_websocket_route("/v1/streaming/{connection_id}", streaming)
    app.add_api_websocket_route("/v1/realtime/insights/{connection_id}", streaming)
    app.add_api_websocket_route("/v1/subscribe/{connection_id}", streaming.subscribe)
    return app
