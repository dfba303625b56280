// Live updates: the API's Server-Sent Events (/api/events), read with fetch so the bearer token goes along.
// Each change becomes an "orchestrion:change" window event ({type, id, status}); while the stream is down,
// pages fall back to polling.

import {getToken} from "./api.js";

let connected = false;
let controller = null;

export const isLive = () => connected;

function setConnected(value) {
  if (connected === value) return;
  connected = value;
  document.documentElement.dataset.live = value ? "on" : "off";
  window.dispatchEvent(new Event("orchestrion:live"));
}

function dispatch(block) {
  for (const line of block.split("\n")) {
    if (!line.startsWith("data:")) continue;
    try {
      const message = JSON.parse(line.slice(5));
      window.dispatchEvent(new CustomEvent("orchestrion:change", {detail: message.value || message}));
    } catch {
      // not a change message; ignore it
    }
  }
}

async function stream(signal) {
  const headers = {Accept: "text/event-stream"};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch("api/events", {headers, signal, cache: "no-store"});
  if (!response.ok || !response.body) throw new Error(`events answered ${response.status}`);
  setConnected(true);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
}

/** Keep one event stream open, reconnecting with backoff (and at once after signing in). */
export function startLive() {
  let delay = 1000;
  let timer = null;
  const connect = async () => {
    clearTimeout(timer);
    controller?.abort();
    const own = new AbortController();
    controller = own;
    try {
      await stream(own.signal);
      delay = 1000;
    } catch {
      delay = Math.min(delay * 2, 30000);
    }
    if (controller !== own) return; // replaced by a newer connection
    setConnected(false);
    timer = setTimeout(connect, delay);
  };
  window.addEventListener("orchestrion:token", () => {
    delay = 1000;
    connect();
  });
  connect();
}
