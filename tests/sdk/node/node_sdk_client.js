#!/usr/bin/env node
// Drive the official Node SDK (@symblai/symbl-js 1.4.10, unmodified) against a Symbl
// endpoint, for tests/sdk/python/test_node_sdk.py:
//
//   node node_sdk_client.js WAV CONNECTION_ID
//
// Where and who: SYMBL_BASE_URL, SYMBL_APP_ID, SYMBL_APP_SECRET. One speaker client streams
// the WAV's LINEAR16 through `startRealtimeRequest` with every handler; a second client (its
// own SDK instance, initialised with the first one's access token) follows the conversation
// with `subscribeToStream`; the speaker stops with `await connection.stop()`. Everything the
// handlers get is printed in the order it came, one JSON object a line (`event` says which;
// `client` is `speaker` or `subscriber`). Then the same audio once more through the newer
// `createStream` / `start()` / `stop()` (`client` is `stream`, connection id CONNECTION_ID-2).
//
// Only the host is configured: `sdk.oauth2.setBasePath` (init's basePath does not move the
// token request) and init's `basePath`. The SDK refreshes its token on a 24 h timer that keeps
// Node alive: it is cleared at the end.
"use strict";

const fs = require("fs");
const { sdk, SDK } = require("@symblai/symbl-js");
const { emit, guarded, initFromEnv, plain, run, signal } = require("./sdk_output");

const INSIGHT_TYPES = ["question", "action_item", "follow_up"];
const SPEAKER = { userId: "jane.doe@example.com", name: "Jane" };
const FRAME_BYTES = 4096; // 2048 LINEAR16 samples, within the API's 8192 bytes a frame
// A 16-bit PCM mono WAV's sample rate and samples.
function readWav(path) {
  const file = fs.readFileSync(path);
  let offset = 12;
  let rate = null;
  while (offset + 8 <= file.length) {
    const id = file.toString("ascii", offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    if (id === "fmt ") rate = file.readUInt32LE(offset + 12);
    if (id === "data") return { rate, pcm: file.subarray(offset + 8, offset + 8 + size) };
    offset += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no audio data`);
}

function sendAll(connection, audio) {
  for (let at = 0; at < audio.pcm.length; at += FRAME_BYTES) {
    connection.sendAudio(audio.pcm.subarray(at, at + FRAME_BYTES));
  }
}

// The newer streaming call: connect, `start()` (resolves on started_listening), audio,
// `stop()` (resolves on the first of recognition_stopped and conversation_completed).
async function createStreamFlow(connectionId, audio) {
  const on = (name) => (data) => emit(name, { client: "stream", data });
  const streamCompleted = signal();
  const connection = await sdk.createStream({
    id: connectionId,
    insightTypes: INSIGHT_TYPES,
    config: { meetingTitle: "node-sdk createStream test", sampleRateHertz: audio.rate },
    speaker: SPEAKER,
    handlers: {
      onSpeechDetected: on("speech"),
      onMessageResponse: on("messages"),
      onInsightResponse: on("insights"),
      // createStream replaces a user's onClose with its own (1.4.10): this handler, queued
      // after those of the frames before it, marks the end instead.
      onConversationCompleted: (data) => {
        emit("conversation_completed", { client: "stream", data });
        streamCompleted.resolve();
      },
    },
  });
  await connection.start();
  const conversationId = await guarded(connection.conversationId, null);
  emit("started", { client: "stream", connectionId: connection.connectionId, conversationId });
  sendAll(connection, audio);
  const stopped = await guarded(connection.stop(), "unresolved");
  if (stopped === "unresolved") {
    emit("stop_unresolved", { client: "stream" });
    return 3;
  }
  emit("stopped", { client: "stream", conversationData: stopped });
  emit("stream_done", { completed: await guarded(streamCompleted.promise.then(() => true), false) });
  return 0;
}

async function main() {
  const [wav, connectionId] = process.argv.slice(2);
  const audio = readWav(wav);
  const basePath = await initFromEnv(sdk);
  emit("init", { client: "speaker", expiresIn: sdk.oauth2.expiresIn });

  const listener = new SDK();
  listener.oauth2.setBasePath(basePath);
  // With an access token the SDK makes no request: it reads the token's `exp` (a JWT).
  await listener.init({ accessToken: sdk.oauth2.activeToken, basePath, logLevel: "warn" });
  emit("init", { client: "subscriber", expiresIn: listener.oauth2.expiresIn });

  const speakerClosed = signal();
  const subscriberCompleted = signal();
  const on = (name) => (data) => emit(name, { client: "speaker", data });
  let connection;
  try {
    connection = await sdk.startRealtimeRequest({
      id: connectionId,
      insightTypes: INSIGHT_TYPES,
      config: {
        meetingTitle: "node-sdk test",
        confidenceThreshold: 0.5,
        languageCode: "en-US",
        sentiment: true,
        sampleRateHertz: audio.rate,
      },
      speaker: SPEAKER,
      trackers: [{ name: "Reports", vocabulary: ["report", "dashboard"] }],
      handlers: {
        onSpeechDetected: on("speech"),
        onMessageResponse: on("messages"),
        onInsightResponse: on("insights"),
        onTopicResponse: on("topics"),
        onTrackerResponse: on("trackers"),
        // The SDK deletes `type` from the conversation_completed message it resolves stop()
        // with before this handler runs: its conversationId still tells it apart.
        onDataReceived: (data) =>
          emit("data", {
            client: "speaker",
            type: data.type,
            message: data.message && data.message.type,
            conversationId: data.message && data.message.conversationId,
          }),
        // Handlers run on setImmediate in arrival order: the close comes after all of them.
        onClose: (event) => {
          emit("closed", { client: "speaker", code: event && event.code });
          speakerClosed.resolve();
        },
      },
    });
  } catch (error) {
    emit("error", { during: "start", error: plain(error) });
    return 2;
  }
  emit("started", {
    client: "speaker",
    connectionId: connection.connectionId,
    conversationId: connection.conversationId,
  });

  const subscription = await listener.subscribeToStream(connectionId, (data) => {
    emit("subscriber", { client: "subscriber", data });
    // The last lifecycle message of a conversation.
    if (data.type === "message" && data.message && data.message.type === "recognition_stopped") {
      subscriberCompleted.resolve();
    }
  });
  emit("subscribed", { connectionId });

  sendAll(connection, audio);
  emit("audio_sent", { bytes: audio.pcm.length });

  let status = 0;
  try {
    const stopped = await guarded(connection.stop(), "unresolved");
    if (stopped === "unresolved") {
      emit("stop_unresolved", { client: "speaker" });
      status = 3;
    } else {
      emit("stopped", { client: "speaker", conversationData: stopped === undefined ? null : stopped });
    }
  } catch (error) {
    emit("error", { during: "stop", error: plain(error) });
    status = 2;
  }
  // `stop()` resolves on `conversation_completed` itself, before the handlers queued for the
  // frames just ahead of it have run: wait for the socket's close, which follows them all.
  emit("speaker_done", { closed: await guarded(speakerClosed.promise.then(() => true), false) });
  emit("subscriber_done", { completed: await guarded(subscriberCompleted.promise.then(() => true), false) });
  subscription.close();
  if (status === 0) status = await createStreamFlow(`${connectionId}-2`, audio);
  clearTimeout(sdk.oauth2.refreshTimeoutRef);
  clearTimeout(listener.oauth2.refreshTimeoutRef);
  return status;
}

run(main, "setup");
