"""Drive the official Python SDK (symbl 2.0.6, unmodified) against a Symbl endpoint.

    python python_sdk_client.py stream WAV
    python python_sdk_client.py async PLAN.json

Where and who: SYMBL_BASE_URL, SYMBL_APP_ID, SYMBL_APP_SECRET. Only the SDK's host is
configured, as the SDK holds it: the default `symbl_rest.Configuration` (set before `symbl` is
imported, which builds its REST clients on import) and the streaming URL format its
StreamingApi module imported. Output: one JSON object a line on stdout, `event` says which;
the SDK's own log goes to stderr.

The SDK runs threads that would outlive the flow (its socket thread; each Async API job's
monitor, which sleeps 30 s before its first poll): the process leaves with `os._exit`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

FRAME_BYTES = 4096  # 2048 LINEAR16 samples, within the API's 8192 bytes a frame
INSIGHT_TYPES = ["question", "action_item", "follow_up"]
SPEAKER = {"userId": "jane.doe@example.com", "name": "Jane"}
TRACKERS = [{"name": "Reports", "vocabulary": ["report", "dashboard"]}]
# Guards against a hang only; nothing is judged by them.
STOP_GUARD_S = 60.0
JOB_GUARD_S = 120.0
CONNECT_ATTEMPTS = 3

_lock = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stdout (SDK callbacks arrive on its socket's thread)."""
    line = json.dumps({"event": event, **fields}, default=str)
    with _lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def plain(reply: Any) -> Any:
    """A REST answer as JSON: models by their `to_dict`, anything else as it is."""
    if isinstance(reply, list):
        return [plain(item) for item in reply]
    return reply.to_dict() if hasattr(reply, "to_dict") else reply


def call(name: str, function: Callable[[], Any]) -> Any:
    """Run one SDK call and print what it returned, with the returned object's type: the
    SDK's REST wrappers swallow errors and return a `{'message': …}` dict (or None), so the
    type is what tells an answer from a swallowed error."""
    try:
        reply = function()
    except Exception as error:  # a call that raises (the generated client, used directly)
        failure = {"error": type(error).__name__, "status": getattr(error, "status", None)}
        emit("rest", call=name, type="raised", result=failure)
        return None
    kind = type(reply).__name__
    if isinstance(reply, list) and reply:
        kind = f"list[{type(reply[0]).__name__}]"
    emit("rest", call=name, type=kind, result=plain(reply))
    return reply


def configure_sdk(base_url: str) -> Any:
    """Point the SDK at `base_url` and import it; returns the `symbl` module."""
    import symbl_rest  # configured before `symbl` builds its clients

    rest = symbl_rest.Configuration()
    rest.host = base_url
    symbl_rest.Configuration.set_default(rest)

    import symbl

    streaming = sys.modules["symbl.streaming_api.StreamingApi"]
    ws_base = "ws" + base_url.removeprefix("http")
    vars(streaming)["SYMBL_STREAMING_API_FORMAT"] = (
        ws_base + "/v1/realtime/insights/{}?source=python_sdk"
    )
    return symbl


def credentials() -> dict[str, str | None]:
    return {
        "app_id": os.environ.get("SYMBL_APP_ID"),
        "app_secret": os.environ.get("SYMBL_APP_SECRET"),
    }


def read_wav(path: Path) -> tuple[int, bytes]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.readframes(wav.getnframes())


def connect(symbl: Any, rate: int) -> Any:
    """`start_connection`, retried on symbl 2.0.6's connect race: it reads
    `self.connection.sock.connected` right after starting the socket's thread, before that
    thread may have made the socket (AttributeError on None). Each attempt is a new
    connection id; a failed one sent no start request."""
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return symbl.Streaming.start_connection(
                credentials=credentials(),
                speaker=SPEAKER,
                insight_types=INSIGHT_TYPES,
                trackers=TRACKERS,
                config={
                    "meetingTitle": "python-sdk test",
                    "sentiment": True,
                    "speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": rate},
                },
            )
        except AttributeError as error:
            emit("connect_race", attempt=attempt, error=repr(error))
    raise SystemExit(2)


def stream(wav: Path) -> None:
    """Stream a WAV through `symbl.Streaming`, stop, then call every Conversation API call
    the SDK has on the conversation it reported."""
    symbl = configure_sdk(os.environ["SYMBL_BASE_URL"])
    rate, pcm = read_wav(wav)
    done = threading.Event()

    def on_message(data: dict[str, Any]) -> None:
        emit("message", message=data.get("message"))
        if (data.get("message") or {}).get("type") in ("conversation_completed", "error"):
            done.set()

    connection = connect(symbl, rate)
    connection.subscribe(
        {
            "message": on_message,
            "message_response": lambda data: emit("message_response", data=data),
            "insight_response": lambda data: emit("insight_response", data=data),
            "topic_response": lambda data: emit("topic_response", data=data),
            "tracker_response": lambda data: emit("tracker_response", data=data),
        }
    )
    emit("started", connectionId=connection.connectionId, startRequest=connection.start_request)
    for at in range(0, len(pcm), FRAME_BYTES):
        connection.send_audio(pcm[at : at + FRAME_BYTES])
    emit("audio_sent", bytes=len(pcm))
    connection.stop()
    emit("stop_sent")
    emit("stopped", completed=done.wait(STOP_GUARD_S))
    conversation = connection.conversation
    conversation_id = conversation.get_conversation_id()
    emit("conversation", conversationId=conversation_id)
    if conversation_id is None:
        return
    conversation_api(symbl, conversation, conversation_id)


def conversation_api(symbl: Any, conversation: Any, conversation_id: str) -> None:
    """Every Conversation API call of the SDK, then the generated client's calls the
    wrappers lack or call wrongly."""
    import symbl_rest

    call("get_conversation", conversation.get_conversation)
    call("get_messages", lambda: conversation.get_messages({"sentiment": True, "verbose": True}))
    call("get_topics", lambda: conversation.get_topics({"sentiment": True, "parentRefs": True}))
    call("get_questions", conversation.get_questions)
    call("get_action_items", conversation.get_action_items)
    call("get_follow_ups", conversation.get_follow_ups)
    members = call("get_members", conversation.get_members)
    call("get_entities", conversation.get_entities)
    call("get_analytics", conversation.get_analytics)
    call("get_trackers", conversation.get_trackers)
    call("get_call_score", conversation.get_call_score)
    call("get_call_score_status", conversation.get_call_score_status)
    call(
        "get_call_score_insights_url",
        lambda: symbl.Conversations.get_call_score_insights_url(conversation_id),
    )
    member_id = members.members[0].id if getattr(members, "members", None) else "unknown"
    member = {"id": member_id, "name": "Jane Doe", "email": "jane.doe@example.com"}
    call("put_members", lambda: conversation.put_members(member_id, member))
    speakers = {
        "speakerEvents": [
            {
                "type": "started_speaking",
                "user": {"id": member_id, "name": "Jane Doe", "email": "jane.doe@example.com"},
                "offset": {"seconds": 0, "nanos": 500000000},
            },
            {
                "type": "stopped_speaking",
                "user": {"id": member_id, "name": "Jane Doe", "email": "jane.doe@example.com"},
                "offset": {"seconds": 3, "nanos": 0},
            },
        ]
    }
    call("put_speakers_events", lambda: conversation.put_speakers_events(speakers))

    # The generated client the wrappers are built on (part of the SDK: symbl_rest 1.0.14).
    rest = symbl_rest.ConversationsApi()
    call("rest.get_insights", lambda: rest.get_insights_by_conversation_id(conversation_id))
    call("rest.get_intents", lambda: rest.get_intents_by_conversation_id(conversation_id))
    call(
        "rest.put_members",
        lambda: rest.put_members_information_by_members_id(member, conversation_id, member_id),
    )
    call(
        "rest.put_speakers_events",
        lambda: rest.put_speakers_event_by_conversation_id(speakers, conversation_id),
    )
    call("get_members_after_put", conversation.get_members)

    tokens()


def tokens() -> None:
    """The generated client's token calls beyond the one the SDK made: a new token, its
    refresh and the app's revocation. Tokens are never printed, only whether they came."""
    import symbl_rest

    auth = symbl_rest.AuthenticationApi()
    creds = credentials()
    generated = call_quietly(
        "rest.generate_token",
        lambda: auth.generate_token(
            {"type": "application", "appId": creds["app_id"], "appSecret": creds["app_secret"]}
        ),
    )
    if generated is None:
        return
    call_quietly(
        "rest.refresh_token",
        lambda: auth.refresh_token(
            symbl_rest.RefreshTokenRequest(
                app_id=creds["app_id"], app_secret=creds["app_secret"],
                refresh_token=generated.refersh_token or generated.access_token,
            )
        ),
    )  # fmt: skip
    call_quietly(
        "rest.revoke_token",
        lambda: auth.revoke_token(
            symbl_rest.RevokeTokenRequest(app_id=creds["app_id"], app_secret=creds["app_secret"])
        ),
    )


def call_quietly(name: str, function: Callable[[], Any]) -> Any:
    """`call` for token calls: prints the answer's shape, never a token."""
    try:
        reply = function()
    except Exception as error:
        failure = {"error": type(error).__name__, "status": getattr(error, "status", None)}
        emit("rest", call=name, type="raised", result=failure)
        return None
    shape = {
        "access_token": bool(getattr(reply, "access_token", None)),
        "expires_in": getattr(reply, "expires_in", None),
    }
    emit("rest", call=name, type=type(reply).__name__, result=shape)
    return reply


def wait_for_job(job_id: str) -> str:
    """Poll the job with the SDK's own jobs client until it ends; its last status."""
    import symbl_rest

    jobs = symbl_rest.JobsApi()
    deadline = time.monotonic() + JOB_GUARD_S
    statuses: list[str] = []
    while time.monotonic() < deadline:
        status = str(jobs.get_job_status(job_id).status)
        if not statuses or statuses[-1] != status:
            statuses.append(status)
        if status in ("completed", "failed"):
            break
        time.sleep(0.05)
    emit("job", jobId=job_id, statuses=statuses)
    return statuses[-1] if statuses else "unknown"


def submitted(name: str, submit: Callable[[], Any]) -> Any:
    """Submit one Async API request and wait for its job; the SDK's Conversation."""
    try:
        conversation = submit()
    except Exception as error:  # the Async API wrappers do not swallow errors
        emit("async", call=name, error=type(error).__name__, status=getattr(error, "status", None))
        return None
    emit(
        "async",
        call=name,
        type=type(conversation).__name__,
        conversationId=conversation.get_conversation_id(),
        jobId=conversation.get_job_id(),
        jobStatus=conversation.get_job_status(),
    )
    status = wait_for_job(conversation.get_job_id())
    if status == "completed":
        call(f"{name}.get_messages", lambda: conversation.get_messages({"sentiment": True}))
        call(f"{name}.get_questions", conversation.get_questions)
        call(f"{name}.get_action_items", conversation.get_action_items)
    return conversation


def run_async(plan_path: Path) -> None:
    """The Async API forms the SDK has: audio and video by file and by URL, text, and the
    append forms, each waited for through its job, then read back."""
    plan = json.loads(plan_path.read_text())
    symbl = configure_sdk(os.environ["SYMBL_BASE_URL"])
    creds = credentials()
    params = {"name": "python-sdk async test", "confidenceThreshold": 0.6}
    audio = submitted(
        "audio.process_file",
        lambda: symbl.Audio.process_file(
            file_path=plan["audio_file"], credentials=creds, content_type="audio/wav",
            wait=False, parameters=params,
        ),
    )  # fmt: skip
    submitted(
        "audio.process_url",
        lambda: symbl.Audio.process_url(
            payload={"url": plan["audio_url"], "name": "by url"}, credentials=creds, wait=False
        ),
    )
    if audio is not None:
        submitted(
            "audio.append_file",
            lambda: symbl.Audio.append_file(
                file_path=plan["append_file"], conversation_id=audio.get_conversation_id(),
                credentials=creds, content_type="audio/wav", wait=False,
            ),
        )  # fmt: skip
    text = submitted(
        "text.process",
        lambda: symbl.Text.process(payload=plan["text"], credentials=creds, wait=False),
    )
    if text is not None:
        submitted(
            "text.append",
            lambda: symbl.Text.append(
                payload=plan["text_append"], conversation_id=text.get_conversation_id(),
                credentials=creds, wait=False,
            ),
        )  # fmt: skip
    submitted(
        "video.process_file",
        lambda: symbl.Video.process_file(
            file_path=plan["video_file"], credentials=creds, wait=False
        ),
    )
    submitted(
        "video.process_url",
        lambda: symbl.Video.process_url(
            payload={"url": plan["video_url"]}, credentials=creds, wait=False
        ),
    )


def main(argv: list[str]) -> int:
    flows = {"stream": stream, "async": run_async}
    if len(argv) != 2 or argv[0] not in flows:
        sys.stderr.write(f"usage: python_sdk_client.py {{{'|'.join(flows)}}} PATH\n")
        return 64
    flows[argv[0]](Path(argv[1]))
    emit("done")
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(status)
