// What the Node SDK drivers share: one JSON object a line on stdout, a guard against a hang,
// the SDK initialised with only its host configured, and the exit once the output is out.
"use strict";

// Guards against a hang only; nothing is judged by it.
const GUARD_MS = 60000;

let seq = 0;
function emit(event, fields = {}) {
  seq += 1;
  process.stdout.write(`${JSON.stringify({ seq, event, ...fields })}\n`);
}

const plain = (error) => (error instanceof Error ? { message: error.message } : error);

// Resolves with `promise`'s value, or with `fallback` once the guard has passed.
function guarded(promise, fallback) {
  let timer;
  const guard = new Promise((resolve) => {
    timer = setTimeout(() => resolve(fallback), GUARD_MS);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

// A promise and the function that resolves it.
function signal() {
  let resolve;
  const promise = new Promise((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

// `sdk.oauth2.setBasePath` too: init's basePath does not move the token request.
async function initFromEnv(sdk) {
  const basePath = process.env.SYMBL_BASE_URL;
  sdk.oauth2.setBasePath(basePath);
  await sdk.init({
    appId: process.env.SYMBL_APP_ID,
    appSecret: process.env.SYMBL_APP_SECRET,
    basePath,
    logLevel: "warn",
  });
  return basePath;
}

// Writes to a pipe may still be queued when the work is done: exit once they have gone out
// (the SDK's sockets, and a socket left open after a stop that never resolved, are not
// waited for).
const exitAfterOutput = (status) => process.stdout.write("", () => process.exit(status));

// Run `main`, print `done` with its status (or the error, `during` what), and exit.
function run(main, during) {
  main().then(
    (status) => {
      emit("done", { status });
      exitAfterOutput(status);
    },
    (error) => {
      emit("error", { during, error: plain(error) });
      exitAfterOutput(1);
    },
  );
}

module.exports = { emit, guarded, initFromEnv, plain, run, signal };
