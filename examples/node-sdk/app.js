#!/usr/bin/env node
// A tiny client of Symbl's Streaming API on the official Node SDK (@symblai/symbl-js):
// it streams a WAV file as if it were a microphone and prints what it hears back, one JSON
// object per line on stdout:
//
//   node app.js speech.wav [--speed 1] [--stop-timeout 30]
//
// Where and who: SYMBL_BASE_URL (default https://api.symbl.ai), SYMBL_APP_ID and
// SYMBL_APP_SECRET. Nothing else is configured: the SDK is used as its README shows.
//
// Lines printed (`event` says which): `started` (connection and conversation ids), `speech`
// (live transcripts), `messages`, `insights`, `topics`, `trackers`, `error` (an error message
// from the server), `audio_sent`, `stopped` (what `connection.stop()` resolved with) or
// `stop_unresolved`, `closed`, `done`. Exit status: 0 when the stop completed, 2 when the
// request could not start, 3 when the stop did not complete in time.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const { sdk } = require("@symblai/symbl-js");

const FRAME_SAMPLES = 2048; // 4096 bytes of LINEAR16 a frame, within the API's 8192
// How long a stop may stay pending once the socket has closed under it.
const CLOSED_GRACE_MS = 2000;
const INSIGHT_TYPES = ["question", "action_item", "follow_up"];

function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

function usage(message) {
  process.stderr.write(`${message}\nusage: node app.js WAV [--speed N] [--stop-timeout S]\n`);
  process.exit(64);
}

function parseArgs(argv) {
  const options = { wav: null, speed: 1, stopTimeoutS: 30 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--speed" || arg === "--stop-timeout") {
      const value = Number(argv[++i]);
      if (!(value > 0)) usage(`${arg} needs a positive number`);
      if (arg === "--speed") options.speed = value;
      else options.stopTimeoutS = value;
    } else if (options.wav === null && !arg.startsWith("--")) {
      options.wav = arg;
    } else {
      usage(`unexpected argument ${arg}`);
    }
  }
  if (options.wav === null) usage("a WAV file is required");
  return options;
}

// A 16-bit PCM mono WAV: its sample rate and the little-endian samples, as LINEAR16 wants them.
function readWav(path) {
  const file = fs.readFileSync(path);
  if (file.toString("ascii", 0, 4) !== "RIFF" || file.toString("ascii", 8, 12) !== "WAVE") {
    throw new Error(`${path}: not a WAV file`);
  }
  let rate = null;
  let offset = 12;
  while (offset + 8 <= file.length) {
    const id = file.toString("ascii", offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "fmt ") {
      const format = file.readUInt16LE(body);
      const channels = file.readUInt16LE(body + 2);
      const bits = file.readUInt16LE(body + 14);
      if (format !== 1 || channels !== 1 || bits !== 16) {
        throw new Error(`${path}: need 16-bit PCM mono (format ${format}, ${channels} ch, ${bits} bit)`);
      }
      rate = file.readUInt32LE(body + 4);
    } else if (id === "data") {
      if (rate === null) throw new Error(`${path}: data before fmt`);
      const end = Math.min(body + size, file.length);
      return { rate, pcm: file.subarray(body, end - ((end - body) % 2)) };
    }
    offset = body + size + (size % 2);
  }
  throw new Error(`${path}: no audio data`);
}

// Errors as JSON: an Error's message, anything else (a server message) as it is.
const plain = (error) => (error instanceof Error ? { message: error.message } : error);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Send the audio in frames, paced as a microphone would deliver it (divided by `speed`),
// until it ends or `ended()` says the server has ended the stream.
async function streamAudio(connection, { rate, pcm }, speed, ended) {
  const frameBytes = FRAME_SAMPLES * 2;
  const started = Date.now();
  let frames = 0;
  for (let at = 0; at < pcm.length && !ended(); at += frameBytes) {
    connection.sendAudio(pcm.subarray(at, at + frameBytes));
    frames += 1;
    const due = started + ((at + frameBytes) / 2 / rate) * (1000 / speed);
    await sleep(Math.max(0, due - Date.now()));
  }
  return { frames, seconds: Math.min(frames * frameBytes, pcm.length) / 2 / rate };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const audio = readWav(options.wav);
  const basePath = process.env.SYMBL_BASE_URL || "https://api.symbl.ai";

  // init({basePath}) moves the streaming and REST calls; the token call goes where the SDK's
  // OAuth2 client points, so it is pointed at the same host before init.
  sdk.oauth2.setBasePath(basePath);
  await sdk.init({
    appId: process.env.SYMBL_APP_ID,
    appSecret: process.env.SYMBL_APP_SECRET,
    basePath,
    logLevel: "warn",
  });

  const connectionId = crypto.randomUUID();
  let serverError = false;
  let closed;
  const socketClosed = new Promise((resolve) => {
    closed = resolve;
  });
  let connection;
  try {
    connection = await sdk.startRealtimeRequest({
      id: connectionId,
      insightTypes: INSIGHT_TYPES,
      config: {
        meetingTitle: "symbl-harness node-sdk example",
        confidenceThreshold: 0.5,
        languageCode: "en-US",
        sentiment: true,
        sampleRateHertz: audio.rate,
      },
      speaker: { userId: "jane.doe@example.com", name: "Jane" },
      handlers: {
        onSpeechDetected: (data) => {
          if (data && data.punctuated) {
            emit("speech", { transcript: data.punctuated.transcript, isFinal: !!data.isFinal });
          }
        },
        onMessageResponse: (messages) => emit("messages", { messages }),
        onInsightResponse: (insights) => emit("insights", { insights }),
        onTopicResponse: (topics) => emit("topics", { topics }),
        onTrackerResponse: (trackers) => emit("trackers", { trackers }),
        // Every frame passes here; the SDK hands error messages only to the pending start or
        // stop, so this is where an error that arrives mid-stream shows.
        onDataReceived: (data) => {
          const message = data && data.type === "message" ? data.message : data;
          if (message && message.type === "error") {
            serverError = true;
            emit("error", { error: message });
          }
        },
        onClose: (event) => {
          emit("closed", { code: event && event.code });
          closed();
        },
      },
    });
  } catch (error) {
    emit("error", { error: plain(error), during: "start" });
    clearTimeout(sdk.oauth2.refreshTimeoutRef);
    return 2;
  }
  emit("started", {
    connectionId: connection.connectionId,
    conversationId: connection.conversationId,
    sampleRateHertz: audio.rate,
  });

  emit("audio_sent", await streamAudio(connection, audio, options.speed, () => serverError));

  // `await connection.stop()` resolves on `conversation_completed`. The SDK closes its socket
  // on `recognition_stopped` or `conversation_completed`, whichever comes first: a server that
  // sends `recognition_stopped` first leaves the promise pending forever, so it is bounded.
  let timer;
  let settled = false;
  const unresolved = new Promise((resolve) => {
    timer = setTimeout(() => resolve("timeout"), options.stopTimeoutS * 1000);
    socketClosed.then(() => {
      if (settled) return;
      clearTimeout(timer);
      timer = setTimeout(() => resolve("closed"), CLOSED_GRACE_MS);
    });
  });
  let status = 0;
  try {
    const stopped = await Promise.race([connection.stop(), unresolved]);
    if (stopped === "timeout" || stopped === "closed") {
      emit("stop_unresolved", { reason: stopped, stopTimeoutS: options.stopTimeoutS });
      status = 3;
    } else {
      emit("stopped", { conversationData: stopped || null });
    }
  } catch (error) {
    emit("error", { error: plain(error), during: "stop" });
    status = 2;
  } finally {
    settled = true;
    clearTimeout(timer);
  }
  // The SDK refreshes its token every ~24 h on a timer that would keep Node alive.
  clearTimeout(sdk.oauth2.refreshTimeoutRef);
  return status;
}

main().then(
  (status) => {
    emit("done", { status });
    process.exitCode = status;
    // A stop that never completed leaves the socket open: do not wait for it.
    if (status === 3) setImmediate(() => process.exit(status));
  },
  (error) => {
    emit("error", { error: plain(error), during: "setup" });
    process.exit(1);
  },
);
