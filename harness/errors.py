"""The errors a user of the harness or the mock can see, under one base.

    HarnessError                 exit 2: the input cannot be used
    ├── FieldError (ValueError)           a request field out of range (protocol)
    │   └── StartRequestError             a start_request that cannot be sent
    ├── SessionLogError                   a session folder that cannot be read or written
    ├── WavError (ValueError)             audio that is not 16-bit PCM WAV
    ├── WireAudioError                    audio frames that are not their declared encoding
    ├── TranscriptError (ValueError)      a transcript.json that cannot be used
    ├── AudioSourceError                  a file or device that gives no audio
    ├── ReplayError                       a session that cannot be replayed
    ├── FaultError (ValueError)           a fault plan that makes no sense (mock)
    ├── EngineUnavailableError            a recognition engine that cannot run (mock)
    ├── ModeError (ValueError)            an option value that is none of its valid values
    ├── BrowserError                      a page, WAV or browser that cannot be used
    └── EndpointError            exit 1: the endpoint or a client failed us
        ├── AuthError                     no credentials, or refused ones
        ├── SessionError                  a stream that could not be opened or was dropped
        └── ConversationApiError          a Conversation API call that failed

Each message is one line a user can act on; the CLI prints it as `error: MESSAGE` and exits
with the class's `exit_code`. The command line's exit codes, the same in every command:

    0    done (a first Ctrl-C in `record` or `replay` is a clean stop, and done)
    1    the endpoint or the client failed: unreachable, refused, unavailable, dropped, no
         close within --stop-timeout; or a finding (compare differs, check/browser findings,
         demo regression, bench sessions failed)
    2    unusable input: Click's usage errors, HarnessError, a file or folder that cannot be
         read or written, an address that cannot be listened on
    130  interrupted by Ctrl-C (while loading, a second Ctrl-C in record/replay, demo, ...)
"""

from __future__ import annotations


class HarnessError(Exception):
    """The base of every error a user sees: one line, and the exit code the CLI gives it."""

    exit_code = 2


class EndpointError(HarnessError):
    """The endpoint, the network or the client under test failed: exit code 1."""

    exit_code = 1
