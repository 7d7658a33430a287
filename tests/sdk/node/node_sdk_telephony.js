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
const { emit, guarded, initFromEnv, plain, run, signal } = require("./sdk_output");

const SPEAKER = { userId: "jane.doe@example.com", name: "Jane" };

async function main() {
  const [uri] = process.argv.slice(2);
  await initFromEnv(sdk);
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

  const messaged = signal();
  const janeSpoke = signal();
  await sdk.subscribeToConnection(connection.connectionId, (data) => {
    emit("result", { data });
    if (data.type !== "message_response") return;
    messaged.resolve();
    if (data.messages.some((m) => m.from && m.from.name === SPEAKER.name)) janeSpoke.resolve();
  });
  emit("subscribed");

  emit("messaged", { ok: await guarded(messaged.promise.then(() => true), false) });
  const event = new SpeakerEvent({ type: SpeakerEvent.types.startedSpeaking, user: SPEAKER });
  // Its promise settles only on an error: the SDK queues the event and calls back on none.
  sdk.pushEventOnConnection(connection.connectionId, event.toJSON()).catch((error) =>
    emit("push_error", { error: plain(error) }),
  );
  emit("pushed");
  emit("jane_spoke", { ok: await guarded(janeSpoke.promise.then(() => true), false) });

  const stopped = await sdk.stopEndpoint({ connectionId: connection.connectionId });
  emit("stopped", { connectionId: stopped.connectionId, conversationId: stopped.conversationId });
  clearTimeout(sdk.oauth2.refreshTimeoutRef);
  return 0;
}

run(main, "run");
