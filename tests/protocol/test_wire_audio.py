"""Audio frames decoded as their declared encoding says, as they arrive."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from opus_audio import fixture_audio, ogg_frames, ogg_opus, opus_packets

from harness.audio.fingerprint import compare_audio
from harness.protocol import SAMPLE_RATES
from harness.protocol.wire_audio import (
    DECODABLE,
    WireAudioDecoder,
    WireAudioError,
    default_rate,
    ogg_crc,
)

SAMPLES, RATE = fixture_audio("standup")
SPEECH = SAMPLES[: RATE * 4]
OGG = ogg_opus(SPEECH, RATE)


def decode_all(decoder: WireAudioDecoder, frames: list[bytes]) -> NDArray[np.int16]:
    """Every frame, then what the decoder held back."""
    return np.concatenate([*(decoder.decode(frame) for frame in frames), decoder.flush()])


def cut(blob: bytes, at: list[int]) -> list[bytes]:
    """`blob` cut at the given offsets."""
    edges = [0, *sorted(set(at)), len(blob)]
    return [blob[a:b] for a, b in itertools.pairwise(edges)]


def test_every_encoding_a_start_request_may_name_is_decodable() -> None:
    assert set(DECODABLE) == set(SAMPLE_RATES)
    assert (default_rate("Opus"), default_rate("MULAW"), default_rate("LINEAR16")) == (
        48000,
        8000,
        16000,
    )


def test_the_ogg_checksum_is_the_one_pages_carry() -> None:
    page = OGG[: OGG.index(b"OggS", 4)]
    assert ogg_crc(page[:22] + bytes(4) + page[26:]) == int.from_bytes(page[22:26], "little")


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(OGG) - 1), max_size=12))
def test_ogg_opus_cut_anywhere_decodes_to_the_same_samples(at: list[int]) -> None:
    # At Opus's own rate: no resampler, whose rounding depends on its chunks.
    whole = decode_all(WireAudioDecoder("Opus", 48000), [OGG])
    assert np.array_equal(decode_all(WireAudioDecoder("Opus", 48000), cut(OGG, at)), whole)


def test_ogg_opus_decodes_to_the_source_as_it_arrives() -> None:
    decoder = WireAudioDecoder("Opus", RATE)
    frames = cut(OGG, list(range(1000, len(OGG), 1000)))
    half = np.concatenate([decoder.decode(frame) for frame in frames[: len(frames) // 2]])
    # Half the bytes gave their audio at once: nothing waits for the stream's end.
    assert half.size > 0.3 * SPEECH.size
    rest = decode_all(decoder, frames[len(frames) // 2 :])
    decoded = np.concatenate([half, rest])
    assert decoder.container == "ogg"
    assert abs(decoded.size - SPEECH.size) < RATE // 50
    match = compare_audio(decoded, RATE, SPEECH, RATE, 0.0)
    assert abs(match.offset_s) < 0.005
    assert abs(match.level_db) < 1.0
    assert match.correlation > 0.9


@pytest.mark.parametrize("rate", [48000, 24000, 16000])
def test_web_sdk_packets_decode_at_the_declared_rate(rate: int) -> None:
    packets = opus_packets(SPEECH, RATE)
    decoder = WireAudioDecoder("Opus", rate)
    decoded = decode_all(decoder, packets)
    assert decoder.container == "packets"
    # 20 ms a packet, whatever the rate the audio is heard at.
    assert abs(decoded.size - len(packets) * rate // 50) <= rate // 1000
    match = compare_audio(decoded, rate, SPEECH, RATE, 0.0)
    assert abs(match.offset_s) < 0.01
    assert abs(match.level_db) < 1.0
    assert match.correlation > 0.9


def test_stereo_ogg_opus_is_heard_as_mono() -> None:
    stereo = np.stack([SPEECH, SPEECH], axis=1)
    decoded = decode_all(WireAudioDecoder("Opus", RATE), ogg_frames(ogg_opus(stereo, RATE)))
    assert decoded.ndim == 1
    assert compare_audio(decoded, RATE, SPEECH, RATE, 0.0).correlation > 0.9


def test_a_corrupt_page_is_named_once_and_keeps_what_came_before() -> None:
    frames = ogg_frames(OGG)
    broken = bytearray(frames[3])
    broken[-1] ^= 0x55
    decoder = WireAudioDecoder("Opus", RATE)
    before = [decoder.decode(frame) for frame in frames[:3]]
    with pytest.raises(WireAudioError) as raised:
        decoder.decode(bytes(broken))
    message = str(raised.value)
    assert message.startswith("Opus audio is not Ogg/Opus: page 4 (stream byte ")
    assert message.endswith("has a bad checksum")
    assert "\n" not in message
    assert sum(chunk.size for chunk in before) > 0
    assert decoder.failed == message
    assert decoder.decode(frames[4]).size == 0
    assert decoder.flush().size == 0


def page(
    payload: bytes, sequence: int, *, flags: int = 0, serial: int = 7, ends: bool = True
) -> bytes:
    """A well-formed Ogg page holding one packet, or (not `ends`) a packet's next 255-byte
    segments."""
    full = [255] * (len(payload) // 255)
    lacing = bytes([*full, len(payload) % 255] if ends else full)
    head = b"OggS" + bytes([0, flags]) + bytes(8) + serial.to_bytes(4, "little")
    raw = head + sequence.to_bytes(4, "little") + bytes(4) + bytes([len(lacing)]) + lacing
    body = raw + payload
    return body[:22] + ogg_crc(body).to_bytes(4, "little") + body[26:]


OPUS_HEAD = b"OpusHead" + bytes([1, 1]) + (312).to_bytes(2, "little") + bytes(4) + bytes(3)
OPUS_TAGS = b"OpusTags" + (4).to_bytes(4, "little") + b"test" + bytes(4)


# A packet that never ends: every page continues it, all of its segments full.
ENDLESS_PACKET = page(OPUS_HEAD, 0, flags=2) + b"".join(
    page(bytes(255 * 255), n, flags=0 if n == 1 else 1, ends=False) for n in range(1, 20)
)
BETWEEN_PAGES = OGG[: OGG.index(b"OggS", 4000)] + b"junk" + OGG[OGG.index(b"OggS", 4000) :]


@pytest.mark.parametrize(
    ("blob", "problem"),
    [
        (BETWEEN_PAGES, "does not begin with 'OggS' (found b'junk')"),
        (b"OggS" + bytes(60), "has a bad checksum"),
        (page(b"RIFF" + bytes(30), 0, flags=2), "first packet is not an OpusHead"),
        (page(OPUS_HEAD, 0, flags=2) + page(b"Vorbis", 1), "second packet is not OpusTags"),
        (page(OPUS_HEAD, 0, flags=2) + page(OPUS_TAGS, 2), "is numbered 2 after page 0"),
        (page(OPUS_HEAD, 0, flags=2) + page(OPUS_TAGS, 1, serial=8), "another logical stream"),
        (page(OPUS_HEAD[:9] + bytes([6]) + OPUS_HEAD[10:], 0, flags=2), "6 channels"),
        (ENDLESS_PACKET, "continues a packet past 1048576 bytes"),
    ],
)
def test_a_stream_that_breaks_ogg_opus_is_refused_by_name(blob: bytes, problem: str) -> None:
    decoder = WireAudioDecoder("Opus", RATE)
    with pytest.raises(WireAudioError, match="not Ogg/Opus") as raised:
        decode_all(decoder, [blob[i : i + 8192] for i in range(0, len(blob), 8192)])
    assert problem in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("first", [1, 2, 3])
def test_ogg_opus_taken_up_after_its_header_pages_decodes_as_mono_48k(first: int) -> None:
    # Symbl's web SDK drops the pages made before its socket started, OpusHead and OpusTags
    # among them: the server sees the stream from a later page on, not marked as beginning.
    # Page 1 is the OpusTags: a socket that started between the two header pages.
    pages = [OGG[a:b] for a, b in itertools.pairwise([*_page_starts(OGG), len(OGG)])]
    assert pages[1][27 + pages[1][26] :].startswith(b"OpusTags")
    later = b"".join(pages[first:])
    decoder = WireAudioDecoder("Opus", RATE)
    decoded = decode_all(decoder, [later[i : i + 8192] for i in range(0, len(later), 8192)])
    whole = decode_all(WireAudioDecoder("Opus", RATE), [OGG])
    assert decoder.container == "ogg"
    assert decoder.failed is None
    # The audio of the pages it saw: the end of the whole stream's (with the encoder's
    # lookahead, which only an OpusHead's pre-skip would have cut, under 10 ms).
    assert 0.5 * whole.size < decoded.size < whole.size + RATE // 100
    tail = min(decoded.size, whole.size)
    match = compare_audio(decoded[-tail:], RATE, whole[-tail:], RATE, 0.0)
    assert abs(match.offset_s) < 0.01
    assert match.correlation > 0.9


def _page_starts(blob: bytes) -> list[int]:
    return [i for i in range(len(blob)) if blob.startswith(b"OggS", i)]


def test_a_frame_that_is_no_opus_packet_is_named() -> None:
    decoder = WireAudioDecoder("Opus", 48000)
    packets = opus_packets(SPEECH, RATE)
    assert decoder.decode(packets[0]).size == 960
    with pytest.raises(WireAudioError, match=r"frame 2 \(3 bytes\) is no Opus packet"):
        decoder.decode(b"\xff\xff\xff")


def test_flac_is_lossless_cut_anywhere() -> None:
    out = io.BytesIO()
    sf.write(out, SPEECH, RATE, format="FLAC", subtype="PCM_16")
    blob = out.getvalue()
    decoded = decode_all(WireAudioDecoder("FLAC", RATE), cut(blob, list(range(7, len(blob), 5000))))
    assert np.array_equal(decoded, SPEECH)


def test_audio_that_is_no_flac_stream_is_named() -> None:
    with pytest.raises(WireAudioError, match="FLAC audio is not a FLAC stream: it does not begin"):
        WireAudioDecoder("FLAC", RATE).decode(bytes(100))


def test_mulaw_and_linear16_decode_as_before() -> None:
    mulaw = bytes(range(256))
    expected, _ = sf.read(
        io.BytesIO(mulaw), format="RAW", subtype="ULAW", samplerate=8000, channels=1, dtype="int16"
    )
    assert np.array_equal(WireAudioDecoder("MULAW", 8000).decode(mulaw), expected)
    linear = WireAudioDecoder("LINEAR16", 16000)
    pcm = np.arange(-5, 5, dtype="<i2").tobytes()
    # An odd byte joins the next frame.
    assert np.array_equal(
        np.concatenate([linear.decode(pcm[:3]), linear.decode(pcm[3:])]), np.arange(-5, 5)
    )


def test_a_rate_no_audio_has_is_refused() -> None:
    decoder = WireAudioDecoder("Opus", 2**31)
    with pytest.raises(WireAudioError, match="cannot be resampled"):
        decode_all(decoder, opus_packets(SPEECH[:4800], RATE))
