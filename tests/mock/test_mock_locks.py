"""The web edge's locks: one per conversation, held around every call into its sessions."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from harness.protocol import StartRequest
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from mock_symbl.engines.base import Recognizer
from mock_symbl.engines.transcript import TranscriptRecognizer
from mock_symbl.session.conversation import Output, Send
from mock_symbl.session.ids import IdSource
from mock_symbl.session.streaming import StreamingSession
from mock_symbl.web.ws import ConversationLocks, LockedSession

from helpers import FIXTURES, start_request

KEY = ("app", "standup")


def test_sockets_with_one_key_share_one_lock_and_other_keys_get_their_own() -> None:
    locks = ConversationLocks()
    with locks.lock_for(KEY) as first, locks.lock_for(KEY) as second:
        assert first is second
        with locks.lock_for(("app", "other")) as other:
            assert other is not first


def test_a_key_whose_sockets_all_closed_starts_again_with_a_fresh_lock() -> None:
    locks = ConversationLocks()
    with locks.lock_for(KEY) as first:
        with locks.lock_for(KEY):
            pass
        with locks.lock_for(KEY) as still:
            assert still is first
    with locks.lock_for(KEY) as fresh:
        assert fresh is not first


class Witness:
    """A stand-in session that records whether the lock was held during each call."""

    cpu_bound = True

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.held: list[bool] = []

    def _call(self, *_: Any) -> list[Output]:
        self.held.append(self.lock.locked())
        return []

    receive_text = receive_audio = connection_lost = end_for_silence = _call


def test_every_call_into_the_session_holds_the_lock() -> None:
    lock = threading.Lock()
    witness = Witness(lock)
    locked = LockedSession(witness, lock)  # type: ignore[arg-type]
    locked.receive_text("{}")
    locked.receive_audio(b"")
    locked.end_for_silence(1.0)
    locked.connection_lost()
    assert witness.held == [True, True, True, True]
    assert not lock.locked()
    assert locked.cpu_bound


def transcript_engine(request: StartRequest, connection_id: str) -> Recognizer:
    return TranscriptRecognizer(read_transcript(FIXTURES / "standup" / "transcript.json"))


def test_two_speakers_recognised_in_threads_number_their_messages_without_gaps() -> None:
    conversations: dict[Any, Any] = {}
    ids = IdSource(3)
    lock = threading.Lock()
    speakers = [
        LockedSession(
            StreamingSession(
                connection_id=KEY[1],
                app_key=KEY[0],
                conversations=conversations,
                engines=transcript_engine,
                ids=ids,
                now=lambda: datetime(2026, 1, 2, tzinfo=UTC),
            ),
            lock,
        )
        for _ in range(2)
    ]
    for speaker in speakers:
        speaker.receive_text(json.dumps(start_request(16000)))
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav").samples.astype("<i2")

    def speak(speaker: LockedSession) -> list[Output]:
        outputs: list[Output] = []
        for start in range(0, audio.size, 1024):
            outputs += speaker.receive_audio(audio[start : start + 1024].tobytes())
        return outputs

    with ThreadPoolExecutor(2) as pool:
        said = [o for outputs in pool.map(speak, speakers) for o in outputs]
    numbers = [
        json.loads(o.text)["sequenceNumber"]
        for o in said
        if isinstance(o, Send) and '"message_response"' in o.text
    ]
    assert sorted(numbers) == list(range(len(numbers)))
    (conversation,) = conversations.values()
    assert len(conversation.messages) == len(numbers) == 12
