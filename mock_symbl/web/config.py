"""How the mock runs: one frozen settings object for the app and its streaming endpoint."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.modes import parse_mode
from mock_symbl.engines.names import Engine, OnMiss
from mock_symbl.engines.upstream import Upstream
from mock_symbl.engines.whisper_model import WhisperModelError, check_folder
from mock_symbl.session.backlog import Backlog
from mock_symbl.session.faults import Faults


class MockConfigError(HarnessError, ValueError):
    """Settings that contradict each other; the message says which."""


@dataclass(frozen=True)
class Answers:
    """How a running mock answers audio that matches none of its recordings."""

    on_miss: OnMiss | str = OnMiss.ERROR
    # Where `record` saves a miss, and how many days the new recording says it is good for.
    record_to: Path | None = None
    expires_days: float | None = None
    # How well audio must match a recording (None: the matcher's default).
    min_score: float | None = None
    # A Symbl-compatible endpoint that answers misses instead of the mock's engines, and
    # what gives its access tokens (the mock never learns the credentials behind them).
    upstream: str | None = None
    upstream_token: Callable[[], str] | None = None

    def __post_init__(self) -> None:
        """Hold the policy as an OnMiss; `record` needs its folder, an upstream its tokens
        and a policy that answers misses."""
        object.__setattr__(self, "on_miss", parse_mode(OnMiss, self.on_miss, "on-miss policy"))
        if self.on_miss is OnMiss.RECORD and self.record_to is None:
            raise MockConfigError("on_miss 'record' needs a folder to record to (record_to)")
        if self.upstream is not None:
            if self.upstream_token is None:
                raise MockConfigError("an upstream needs a source of access tokens")
            if self.on_miss is OnMiss.ERROR:
                raise MockConfigError("an upstream answers misses: on_miss 'engines' or 'record'")
            self.upstream_endpoint()

    def upstream_endpoint(self) -> Upstream | None:
        """The endpoint that answers misses, if one does (MockConfigError for a bad URL)."""
        if self.upstream is None or self.upstream_token is None:
            return None
        try:
            return Upstream(self.upstream, self.upstream_token)
        except ValueError as error:
            raise MockConfigError(f"upstream: {error}") from None


@dataclass(frozen=True)
class MockConfig:
    """How the server runs: storage, engines, accepted apps, token lifetime, id seed."""

    db: Path | None = None
    engine: Engine | str = Engine.AUTO
    # Session folders (or folders holding them) to answer from, matched by the client's audio.
    recordings: tuple[Path, ...] = ()
    # What answers audio that matches none of them, and how well audio must match.
    answers: Answers = field(default_factory=Answers)
    transcripts: tuple[Path, ...] = ()
    # A CTranslate2 Whisper model folder for the whisper engine instead of the packaged one.
    whisper_model: Path | None = None
    # Telephony: the recording (session folder) that answers calls to a number or SIP user.
    phones: Mapping[str, Path] = field(default_factory=dict)
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
    # How far recognition may fall behind the audio, and how it catches up (backlog.py).
    backlog: Backlog = field(default_factory=Backlog)
    # An extension for measuring the measurer: every JSON frame carries `x_mock_sent_ns`.
    stamp_send_times: bool = False
    # Faults every session gets (the control route can change them while it runs).
    faults: Faults = field(default_factory=Faults)
    # Abuse limits. A request body over this is refused (413) as it arrives.
    max_body_bytes: int = 1 << 20
    # An audio or video file sent to the Async API may be this large.
    max_media_bytes: int = 256 << 20
    # Failed token requests per minute, per client address and per appId (None: any).
    token_failures_per_minute: int | None = 30
    # A client gets this long to send a complete request head (slow ones hold connections).
    header_timeout_s: float = 10.0
    # A streaming connection id longer than this is refused at the handshake (400).
    max_connection_id_chars: int = 256
    # `/v1/mock/*` without a token, every app's plans and reports open to all: local use only.
    open_control: bool = False

    def __post_init__(self) -> None:
        """Hold the engine as an Engine; a name is checked (ModeError lists the valid ones)."""
        object.__setattr__(self, "engine", parse_mode(Engine, self.engine, "engine"))
        if self.whisper_model is not None:
            try:
                check_folder(self.whisper_model)
            except WhisperModelError as error:
                raise MockConfigError(f"whisper_model: {error}") from None
