"""Binary audio frames as their declared encoding says, decoded to 16-bit PCM as they arrive.

- `LINEAR16`: little-endian Int16, the samples themselves (an odd byte joins the next frame).
- `MULAW`: G.711 µ-law, one byte a sample.
- `Opus`, in either of two shapes, told apart by the first frame:
  - an Ogg/Opus stream (RFC 7845: `OpusHead`, `OpusTags`, then audio packets), cut anywhere
    into frames: pages may span frames and frames may hold several pages;
  - one bare Opus packet per frame, no container and no header: what Symbl's web SDK 1.0.10
    sends (its `OpusAudioStream` runs symbl-opus-encdec with `rawOpus: true` and
    `streamPages: true`: each 20 ms packet, encoded at 48 kHz mono, is its own frame).
  An Ogg stream begins with the capture pattern `OggS`, which no mono Opus packet does. One
  taken up after its header pages (the web SDK's `rawOpus: false` drops them) is heard as
  mono 48 kHz Opus from its first page on.
- `FLAC`: a native FLAC stream (`fLaC`, metadata blocks, then frames), cut anywhere.

Decoding is incremental: each frame gives the samples it completes, at the declared rate
(Opus decodes at 48 kHz and is resampled by libsoxr when another rate was declared), never
waiting for the stream's end. A stream that breaks its format raises `WireAudioError` once,
naming the problem in one line; the samples given before it stand, and every later frame
gives none. Sans I/O: bytes in, samples out (libopus and libFLAC through PyAV, FFmpeg's
bindings).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import Final

import av
import numpy as np
import soundfile as sf
import soxr
from av.audio.codeccontext import AudioCodecContext
from numpy.typing import NDArray

from harness.errors import HarnessError

DECODABLE: Final = ("LINEAR16", "MULAW", "Opus", "FLAC")
# The rate assumed when a start request names none: the protocol's defaults, and Opus's own.
DEFAULT_RATES: Final = {"MULAW": 8000, "Opus": 48000}
# The highest rate decoded audio is resampled to; past it a rate is a mistake or an attack.
MAX_RESAMPLED_RATE: Final = 768000
OGG_CAPTURE: Final = b"OggS"
FLAC_MARKER: Final = b"fLaC"
OGG_HEADER_BYTES: Final = 27
# Opus packets are under 64 KiB; OpusTags may carry pictures. A longer packet is a broken
# stream, not one to hold in memory.
MAX_OGG_PACKET: Final = 1 << 20
# Metadata before FLAC audio (pictures, padding) is bounded, so a broken stream is told early.
MAX_FLAC_METADATA: Final = 1 << 20
FLAC_STREAMINFO: Final = 0
_EMPTY: Final = np.zeros(0, dtype=np.int16)


class WireAudioError(HarnessError):
    """Audio that is not what its declared encoding says; the message is one line."""


def default_rate(encoding: str) -> int:
    """The sample rate of `encoding` audio whose start request names none."""
    return DEFAULT_RATES.get(encoding, 16000)


def _ogg_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE: Final = _ogg_crc_table()


def ogg_crc(page: bytes) -> int:
    """The CRC-32 an Ogg page carries (polynomial 0x04C11DB7, unreflected, no final xor),
    computed with the page's own checksum field as zeros."""
    crc = 0
    table = _CRC_TABLE
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc


class OggPackets:
    """The packets of one logical Ogg stream, from bytes cut anywhere; checks every page."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._partial = bytearray()
        self._serial: int | None = None
        self._sequence = -1
        # Began mid-stream, without its header pages (see `_page`).
        self.headerless = False
        # Bytes of a packet begun before the first page seen, skipped.
        self._skipping = False
        self.pages = 0
        self.offset = 0  # stream bytes before the buffer

    def feed(self, data: bytes) -> list[bytes]:
        """Take the next bytes; the packets they complete. WireAudioError on a bad page."""
        self._buffer += data
        packets: list[bytes] = []
        while len(self._buffer) >= OGG_HEADER_BYTES:
            page = self._page()
            if page is None:
                break
            packets.extend(page)
        return packets

    def _fail(self, problem: str) -> WireAudioError:
        return WireAudioError(
            f"Opus audio is not Ogg/Opus: page {self.pages + 1} (stream byte {self.offset}) "
            f"{problem}"
        )

    def _page(self) -> list[bytes] | None:
        buffer = self._buffer
        if buffer[:4] != OGG_CAPTURE:
            raise self._fail(f"does not begin with 'OggS' (found {bytes(buffer[:4])!r})")
        if buffer[4] != 0:
            raise self._fail(f"has Ogg version {buffer[4]}, not 0")
        count = buffer[26]
        if len(buffer) < OGG_HEADER_BYTES + count:
            return None
        lacing = buffer[OGG_HEADER_BYTES : OGG_HEADER_BYTES + count]
        size = OGG_HEADER_BYTES + count + sum(lacing)
        if len(buffer) < size:
            return None
        page = bytes(buffer[:size])
        flags = page[5]
        serial, sequence, crc = struct.unpack_from("<III", page, 14)
        if ogg_crc(page[:22] + b"\0\0\0\0" + page[26:]) != crc:
            raise self._fail("has a bad checksum")
        if self._serial is None:
            # Symbl's web SDK (1.0.10, `OpusAudioStream` with `rawOpus: false`) drops the pages
            # its encoder made before the socket started, OpusHead and OpusTags among them:
            # such a stream is taken up at its first page, as the audio it carries.
            self.headerless = not flags & 0x02
            self._skipping = bool(flags & 0x01)
            self._serial = serial
        elif serial != self._serial:
            raise self._fail(f"belongs to another logical stream (serial {serial})")
        if self._sequence >= 0 and sequence != self._sequence + 1:
            raise self._fail(f"is numbered {sequence} after page {self._sequence}")
        continued = bool(flags & 0x01)
        if continued != bool(self._partial) and not self._skipping:
            raise self._fail("breaks a packet's continuation across pages")
        self._sequence = sequence
        self.pages += 1
        self.offset += size
        del buffer[:size]
        packets: list[bytes] = []
        position = OGG_HEADER_BYTES + count
        for value in lacing:
            self._partial += page[position : position + value]
            position += value
            if len(self._partial) > MAX_OGG_PACKET:
                raise self._fail(f"continues a packet past {MAX_OGG_PACKET} bytes")
            if value < 255:
                if not self._skipping:
                    packets.append(bytes(self._partial))
                self._skipping = False
                self._partial.clear()
        return packets


class _FrameDecoder:
    """A libopus or libFLAC decoder through PyAV, giving mono Int16 at its own rate."""

    def __init__(self, codec: str, extradata: bytes | None = None) -> None:
        context = av.CodecContext.create(codec, "r")
        assert isinstance(context, AudioCodecContext)
        self._context = context
        if extradata is not None:
            self._context.extradata = extradata
        self.rate = 0

    def decode(self, packet: bytes) -> NDArray[np.int16]:
        """The samples of one packet (av.error.FFmpegError when it is not one)."""
        chunks = []
        for frame in self._context.decode(av.Packet(packet)):
            self.rate = frame.sample_rate
            chunks.append(
                _mono_int16(frame.to_ndarray(), frame.format.name, len(frame.layout.channels))
            )
        return np.concatenate(chunks) if chunks else _EMPTY

    def parse(self, data: bytes) -> list[bytes]:
        """Cut a byte stream into the codec's packets (FLAC's parser finds frame starts)."""
        return [bytes(packet) for packet in self._context.parse(data)]

    def drain(self) -> list[bytes]:
        """The packets the parser still holds at the stream's end (it gives one a call)."""
        packets: list[bytes] = []
        while held := self._context.parse(b""):
            packets.extend(bytes(packet) for packet in held)
        return packets


def _mono_int16(array: NDArray[np.generic], sample_format: str, channels: int) -> NDArray[np.int16]:
    planar = sample_format.endswith("p")
    samples = np.asarray(array)
    samples = samples.reshape(channels, -1) if planar else samples.reshape(-1, channels).T
    if sample_format.startswith(("flt", "dbl")):
        mixed = np.clip(samples.astype(np.float64).mean(axis=0) * 32767.0, -32768, 32767)
        return np.asarray(np.rint(mixed), dtype=np.int16)
    bits = {"s16": 16, "s32": 32, "u8": 8}[sample_format.rstrip("p")]
    wide = samples.astype(np.int64)
    if bits == 8:
        wide = (wide - 128) << 8
    elif bits == 32:
        wide >>= 16
    mono = np.rint(wide.mean(axis=0)) if channels > 1 else wide[0]
    return np.asarray(mono, dtype=np.int16)


class WireAudioDecoder:
    """One connection's audio frames, decoded as they arrive: `decode(frame)` gives the
    samples at `rate`, `flush()` what is held back at the end."""

    def __init__(self, encoding: str, rate: int) -> None:
        if encoding not in DECODABLE:
            known = ", ".join(DECODABLE)
            raise WireAudioError(f"cannot decode {encoding} audio (decodable: {known})")
        self.encoding = encoding
        self.rate = rate
        self.frames = 0
        # The shape an Opus stream came in ("ogg" or "packets"), known from the first frame.
        self.container: str | None = None
        self.failed: str | None = None
        self._carry = b""
        self._ogg: OggPackets | None = None
        self._codec: _FrameDecoder | None = None
        self._packets = 0
        self._resampler: soxr.ResampleStream | None = None
        self._flac_header = bytearray()
        self._sniffed = b""

    def decode(self, frame: bytes) -> NDArray[np.int16]:
        """The samples `frame` completes; WireAudioError (once) when the stream is broken."""
        self.frames += 1
        if self.failed is not None or not frame:
            return _EMPTY
        try:
            if self.encoding == "LINEAR16":
                return self._linear16(frame)
            if self.encoding == "MULAW":
                return _mulaw(frame, self.rate)
            if self.encoding == "FLAC":
                return self._resampled(self._flac(frame), final=False)
            return self._resampled(self._opus(frame), final=False)
        except WireAudioError as error:
            self.failed = str(error)
            raise

    def flush(self) -> NDArray[np.int16]:
        """What the decoder still holds at the stream's end (a FLAC stream's last frame, the
        resampler's last milliseconds); nothing after a failure."""
        if self.failed is not None or self.encoding in ("LINEAR16", "MULAW"):
            return _EMPTY
        tail = _EMPTY
        if self.encoding == "FLAC" and self._codec is not None:
            try:
                tail = np.concatenate(
                    [_EMPTY, *(self._codec.decode(p) for p in self._codec.drain())]
                )
            except av.error.FFmpegError:
                tail = _EMPTY
        return self._resampled(tail, final=True)

    def _linear16(self, frame: bytes) -> NDArray[np.int16]:
        data = self._carry + frame
        even = len(data) - len(data) % 2
        self._carry = data[even:]
        return np.frombuffer(data[:even], dtype="<i2").astype(np.int16)

    def _resampled(self, samples: NDArray[np.int16], *, final: bool) -> NDArray[np.int16]:
        source = self._codec.rate if self._codec is not None else 0
        if source in (0, self.rate):
            return samples
        if self.rate > MAX_RESAMPLED_RATE:
            raise WireAudioError(
                f"{self.encoding} audio at {source} Hz cannot be resampled to the declared "
                f"{self.rate} Hz (at most {MAX_RESAMPLED_RATE} Hz)"
            )
        if self._resampler is None:
            self._resampler = soxr.ResampleStream(source, self.rate, 1, dtype="int16")
        out: NDArray[np.int16] = self._resampler.resample_chunk(samples, last=final)
        return out

    def _opus(self, frame: bytes) -> NDArray[np.int16]:
        if self.container is None:
            frame = self._sniffed + frame
            # A stream cut inside its first four bytes tells its shape with the next frame.
            if len(frame) < len(OGG_CAPTURE) and OGG_CAPTURE.startswith(frame):
                self._sniffed = frame
                return _EMPTY
            self._sniffed = b""
            self.container = "ogg" if frame.startswith(OGG_CAPTURE) else "packets"
            if self.container == "ogg":
                self._ogg = OggPackets()
            else:
                self._codec = _FrameDecoder("libopus")
        if self._ogg is None:
            return self._opus_packet(frame)
        chunks = [self._ogg_packet(packet) for packet in self._ogg.feed(frame)]
        return np.concatenate([_EMPTY, *chunks])

    def _opus_packet(self, packet: bytes) -> NDArray[np.int16]:
        # An empty frame carries no packet (libopus would take it for a lost one).
        if not packet:
            return _EMPTY
        samples = self._decoded(
            packet,
            lambda reason: (
                f"Opus audio is not Ogg/Opus, and frame {self.frames} "
                f"({len(packet)} bytes) is no Opus packet either: {reason}"
            ),
        )
        self._packets += 1
        return samples

    def _decoded(self, packet: bytes, problem: Callable[[str], str]) -> NDArray[np.int16]:
        """The samples of one packet; WireAudioError with `problem(reason)` if it does not
        decode."""
        assert self._codec is not None
        try:
            return self._codec.decode(packet)
        except av.error.FFmpegError as error:
            raise WireAudioError(problem(_reason(error))) from None

    def _ogg_packet(self, packet: bytes) -> NDArray[np.int16]:
        assert self._ogg is not None
        if self._ogg.headerless and self._codec is None:
            # No OpusHead: mono at 48 kHz, as the web SDK encodes, and no pre-skip.
            self._codec = _FrameDecoder("libopus")
            self._packets = 2
            if packet.startswith(b"OpusTags"):
                # Taken up between its two header pages: the OpusHead was dropped, not the tags.
                return _EMPTY
        index = self._packets
        self._packets += 1
        if index == 0:
            # FFmpeg discards the OpusHead's pre-skip (the encoder's lookahead) itself.
            self._codec = _FrameDecoder("libopus", extradata=_opus_head(packet))
            return _EMPTY
        if index == 1:
            if not packet.startswith(b"OpusTags"):
                raise WireAudioError(
                    "Opus audio is not Ogg/Opus: its second packet is not OpusTags "
                    f"(found {packet[:8]!r})"
                )
            return _EMPTY
        return self._decoded(
            packet,
            lambda reason: (
                f"Opus audio is not Ogg/Opus: audio packet {index - 1} does not decode ({reason})"
            ),
        )

    def _flac(self, frame: bytes) -> NDArray[np.int16]:
        if self._codec is None:
            self._flac_header += frame
            streaminfo, audio = _flac_metadata(bytes(self._flac_header))
            if streaminfo is None:
                return _EMPTY
            self._flac_header.clear()
            self._codec = _FrameDecoder("flac", extradata=streaminfo)
            frame = audio
        codec = self._codec
        try:
            chunks = [codec.decode(packet) for packet in codec.parse(frame)]
        except av.error.FFmpegError as error:
            raise WireAudioError(
                f"FLAC audio is not a FLAC stream: frame {self.frames} does not decode "
                f"({_reason(error)})"
            ) from None
        return np.concatenate([_EMPTY, *chunks])


def _reason(error: av.error.FFmpegError) -> str:
    return str(error.strerror or error).rstrip(".")


def _opus_head(packet: bytes) -> bytes:
    """An OpusHead packet, checked (RFC 7845 section 5.1), for the decoder."""
    if not packet.startswith(b"OpusHead") or len(packet) < 19:
        raise WireAudioError(
            "Opus audio is not Ogg/Opus: its first packet is not an OpusHead "
            f"(found {packet[:8]!r})"
        )
    version, channels = packet[8], packet[9]
    family = packet[18]
    if version >> 4:
        raise WireAudioError(f"Opus audio is not Ogg/Opus: OpusHead version {version} is unknown")
    if family != 0 or channels not in (1, 2):
        raise WireAudioError(
            f"Opus audio is not Ogg/Opus this server decodes: {channels} channels in mapping "
            f"family {family} (mono or stereo, family 0, are decoded)"
        )
    return packet


def _flac_metadata(data: bytes) -> tuple[bytes | None, bytes]:
    """STREAMINFO, as a decoder's extradata, and the bytes after the metadata; (None, b"")
    while the metadata is incomplete."""
    if len(data) >= 4 and not data.startswith(FLAC_MARKER):
        raise WireAudioError(
            f"FLAC audio is not a FLAC stream: it does not begin with 'fLaC' (found {data[:4]!r})"
        )
    position, streaminfo = 4, None
    while len(data) >= position + 4:
        last, kind = data[position] & 0x80, data[position] & 0x7F
        size = int.from_bytes(data[position + 1 : position + 4], "big")
        if len(data) < position + 4 + size:
            break
        if kind == FLAC_STREAMINFO:
            streaminfo = data[position + 4 : position + 4 + size]
        position += 4 + size
        if last:
            if streaminfo is None:
                raise WireAudioError("FLAC audio is not a FLAC stream: it has no STREAMINFO")
            return streaminfo, data[position:]
    if len(data) > MAX_FLAC_METADATA:
        raise WireAudioError(
            f"FLAC audio is not a FLAC stream: no audio after {len(data)} bytes of metadata"
        )
    return None, b""


def _mulaw(frame: bytes, rate: int) -> NDArray[np.int16]:
    decoded, _ = sf.read(
        io.BytesIO(frame),
        format="RAW",
        subtype="ULAW",
        samplerate=rate,
        channels=1,
        dtype="int16",
    )
    return np.asarray(decoded, dtype=np.int16)
