"""Drive the official Python SDK's Telephony API (symbl 2.0.6, unmodified) against a Symbl
endpoint, for test_python_sdk_telephony.py:

    python python_sdk_telephony.py PHONE_NUMBER SIP_URI

Where and who: as python_sdk_client.py. `Telephony.start_pstn` dials the number and
`Telephony.start_sip` the URI, then `Telephony.stop` hangs up both; a number nobody answers
is dialled last. The SDK's `Connection.subscribe` is not driven: its host is hard-coded.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from python_sdk_client import configure_sdk, credentials, emit, plain


def connection(answer: Any) -> dict[str, Any]:
    """What the SDK's `Connection` holds of a start's answer."""
    return {
        "connectionId": answer.connectionId,
        "conversationId": answer.conversation.get_conversation_id(),
        "resultWebSocketUrl": answer.resultWebSocketUrl,
        "eventUrl": answer.eventUrl,
    }


def main(number: str, uri: str) -> int:
    symbl = configure_sdk(os.environ["SYMBL_BASE_URL"])
    creds = credentials()
    pstn = symbl.Telephony.start_pstn(
        phone_number=number,
        credentials=creds,
        data={"session": {"name": "python-sdk telephony test"}},
        languages=["en-US"],
        timezone="Asia/Tokyo",
    )
    emit("started", call="pstn", **connection(pstn))
    sip = symbl.Telephony.start_sip(uri=uri, credentials=creds)
    emit("started", call="sip", **connection(sip))
    for kind, started in (("pstn", pstn), ("sip", sip)):
        emit("stopped", call=kind, result=plain(symbl.Telephony.stop(started.connectionId)))
    try:
        symbl.Telephony.start_pstn(phone_number="15550000000", credentials=creds)
    except Exception as error:  # the generated client raises ApiException
        body = getattr(error, "body", b"")
        text = body.decode() if isinstance(body, bytes) else str(body)
        emit("refused", status=getattr(error, "status", None), body=text)
    emit("done")
    return 0


if __name__ == "__main__":
    status = main(*sys.argv[1:])
    sys.stdout.flush()
    os._exit(status)
