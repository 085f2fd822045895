// Server-Sent Events over fetch(): EventSource cannot send an Authorization header.

/**
 * An incremental parser of a text/event-stream (the WHATWG "event stream
 * interpretation"): feed it decoded text in chunks of any size; it calls
 * `onEvent({type, data, lastEventId})` for each event and keeps `lastEventId`.
 */
export class SseParser {
  constructor(onEvent, lastEventId = "") {
    this.onEvent = onEvent;
    this.lastEventId = lastEventId;
    this.buffer = "";
    this.data = [];
    this.type = "";
    this.pendingCR = false;
  }

  /** Parse `text`, the next piece of the stream. */
  feed(text) {
    if (this.pendingCR && text.startsWith("\n")) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) return;
      // A lone CR at the very end may be the first half of a CRLF still to come.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) this.pendingCR = true;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.type = value;
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    return undefined;
  }

  dispatch() {
    const type = this.type || "message";
    const data = this.data.join("\n");
    const hadData = this.data.length > 0;
    this.data = [];
    this.type = "";
    if (hadData) this.onEvent({ type, data, lastEventId: this.lastEventId });
  }
}

/**
 * Watch `url` as SSE until `stop()`: reconnects after a dropped stream, resuming with
 * `Last-Event-ID` (the last whole revision seen), so no change is lost.
 *
 * options: headers() -> headers; onEvent(event); onState("live"|"connecting"|"off", detail);
 * onFatal(response) when the server refuses (4xx): no reconnect then.
 */
export function watch(url, { headers, onEvent, onState, onFatal, lastEventId = "" }) {
  const controller = new AbortController();
  let stopped = false;
  let delay = 250;
  const parser = new SseParser(onEvent, lastEventId);

  async function once() {
    const extra = parser.lastEventId ? { "Last-Event-ID": parser.lastEventId } : {};
    const response = await fetch(url, {
      headers: { Accept: "text/event-stream", ...headers(), ...extra },
      signal: controller.signal,
      cache: "no-store",
    });
    if (response.status >= 400 && response.status < 500) {
      stopped = true;
      onFatal(response);
      return;
    }
    if (!response.ok || !response.body) throw new Error(`watch: HTTP ${response.status}`);
    onState("live");
    delay = 250;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  }

  (async () => {
    while (!stopped) {
      onState("connecting");
      try {
        await once();
      } catch (error) {
        if (stopped || error.name === "AbortError") break;
      }
      if (stopped) break;
      // A new stream starts clean: a half-received event is dropped and sent again.
      parser.buffer = "";
      parser.data = [];
      parser.type = "";
      await new Promise((resolve) => { setTimeout(resolve, delay); });
      delay = Math.min(delay * 1.5, 3000);
    }
    onState("off");
  })();

  return {
    stop() {
      stopped = true;
      controller.abort();
    },
    get lastEventId() { return parser.lastEventId; },
  };
}
