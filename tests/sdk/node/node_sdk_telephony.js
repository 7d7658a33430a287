#!/usr/bin/env node
// Drive the official Node SDK's Telephony API (@symblai/symbl-js 1.4.10, unmodified) against
// a Symbl endpoint, for tests/sdk/python/test_node_sdk_telephony.py:
//
//   node node_sdk_telephony.js SIP_URI
//
// Where and who: SYMBL_BASE_URL, SYMBL_APP_ID, SYMBL_APP_SECRET. `startEndpoint` dials the SIP
// URI, `subscribeToConnection` follows the call's results; after the first message the client
// announces a speaker with `pushEventOnConnection` (a `SpeakerEvent`), waits for a message
// said by that speaker, and hangs up with `stopEndpoint` (which pushes a
// `StopProcessingEvent` first). Everything is printed in the order it came, one JSON object a
// line (`event` says which).
"use strict";

const { sdk, SpeakerEvent } = require("@symblai/symbl-js");

const SPEAKER = { userId: "jane.doe@example.com", name: "Jane" };
// Guards against a hang only; nothing is judged by it.
const GUARD_MS = 60000;

let seq = 0;
function emit(event, fields = {}) {
  seq += 1;
  process.stdout.write(`${JSON.stringify({ seq, event, ...fields })}\n`);
}

const plain = (error) => (error instanceof Error ? { message: error.message } : error);

function guarded(promise, fallback) {
  let timer;
  const guard = new Promise((resolve) => {
    timer = setTimeout(() => resolve(fallback), GUARD_MS);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

async function main() {
  const [uri] = process.argv.slice(2);
  const basePath = process.env.SYMBL_BASE_URL;
  sdk.oauth2.setBasePath(basePath);
  await sdk.init({
    appId: process.env.SYMBL_APP_ID,
    appSecret: process.env.SYMBL_APP_SECRET,
    basePath,
    logLevel: "warn",
  });
  const connection = await sdk.startEndpoint({
    endpoint: { type: "sip", uri },
    data: { session: { name: "node-sdk telephony test" } },
    languages: ["en-US"],
    timezone: "Europe/Paris",
  });
  emit("started", {
    connectionId: connection.connectionId,
    conversationId: connection.conversationId,
    eventUrl: connection.eventUrl,
    webSocketUrl: connection.webSocketUrl,
  });

  let firstMessage;
  const messaged = new Promise((resolve) => {
    firstMessage = resolve;
  });
  let spokenByJane;
  const janeSpoke = new Promise((resolve) => {
    spokenByJane = resolve;
  });
  await sdk.subscribeToConnection(connection.connectionId, (data) => {
    emit("result", { data });
    if (data.type !== "message_response") return;
    firstMessage();
    if (data.messages.some((m) => m.from && m.from.name === SPEAKER.name)) spokenByJane();
  });
  emit("subscribed");

  emit("messaged", { ok: await guarded(messaged.then(() => true), false) });
  const event = new SpeakerEvent({ type: SpeakerEvent.types.startedSpeaking, user: SPEAKER });
  // Its promise settles only on an error: the SDK queues the event and calls back on none.
  sdk.pushEventOnConnection(connection.connectionId, event.toJSON()).catch((error) =>
    emit("push_error", { error: plain(error) }),
  );
  emit("pushed");
  emit("jane_spoke", { ok: await guarded(janeSpoke.then(() => true), false) });

  const stopped = await sdk.stopEndpoint({ connectionId: connection.connectionId });
  emit("stopped", { connectionId: stopped.connectionId, conversationId: stopped.conversationId });
  clearTimeout(sdk.oauth2.refreshTimeoutRef);
  return 0;
}

// Writes to a pipe may still be queued when the work is done: exit once they have gone out
// (the SDK's sockets are not waited for).
const exitAfterOutput = (status) => process.stdout.write("", () => process.exit(status));

main().then(
  (status) => {
    emit("done", { status });
    exitAfterOutput(status);
  },
  (error) => {
    emit("error", { during: "run", error: plain(error) });
    exitAfterOutput(1);
  },
);
