/**
 * Server-Sent Events read from a byte stream, as the HTML standard's event-stream parser
 * reads them: lines end in CRLF, LF or CR; `data:` lines join with "\n"; comments (`:`) are
 * skipped; `id:` persists from event to event; a blank line ends an event. The task stream
 * needs a bearer token, which `EventSource` cannot send, so this reads a `fetch` body instead.
 */

/** One event as it was sent. */
export interface SseEvent {
  /** `event:`; "message" when the event named none. */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
  /** The last event id after this event: its own `id:`, or the latest one before it. */
  lastEventId: string;
  /** Whether this event carried an `id:` line itself. */
  hasId: boolean;
}

/**
 * Reads events from text arriving in pieces: `push` each piece (split anywhere, even inside
 * a CRLF), and it returns the events the piece completed.
 */
export class SseParser {
  private buffer = "";
  private started = false;
  private skipLf = false;
  private eventType = "";
  private data: string[] = [];
  private hasId = false;
  /** The last `id:` seen; sent back as `Last-Event-ID` to resume. */
  lastEventId: string;
  /** The latest `retry:` in milliseconds, when the server sent one. */
  retry: number | undefined;

  constructor(lastEventId = "") {
    this.lastEventId = lastEventId;
  }

  push(text: string): SseEvent[] {
    this.buffer += text;
    if (this.skipLf && this.buffer.length > 0) {
      // The CR that ended the last piece's last line was half of a CRLF.
      if (this.buffer.startsWith("\n")) this.buffer = this.buffer.slice(1);
      this.skipLf = false;
    }
    if (!this.started && this.buffer.length > 0) {
      this.started = true;
      if (this.buffer.startsWith("\uFEFF")) this.buffer = this.buffer.slice(1);
    }
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const cr = this.buffer.indexOf("\r", start);
      const lf = this.buffer.indexOf("\n", start);
      if (cr === -1 && lf === -1) break;
      const end = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
      let next = end + 1;
      if (end === cr) {
        if (next === this.buffer.length) this.skipLf = true;
        else if (this.buffer[next] === "\n") next += 1;
      }
      const event = this.line(this.buffer.slice(start, end));
      if (event) events.push(event);
      start = next;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /** The end of the stream: a last event without its blank line is dropped, as browsers do. */
  end(): void {
    this.buffer = "";
    this.skipLf = false;
    this.eventType = "";
    this.data = [];
    this.hasId = false;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) {
          this.lastEventId = value;
          this.hasId = true;
        }
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const event =
      this.data.length === 0
        ? undefined
        : {
            event: this.eventType || "message",
            data: this.data.join("\n"),
            lastEventId: this.lastEventId,
            hasId: this.hasId,
          };
    this.eventType = "";
    this.data = [];
    this.hasId = false;
    return event;
  }
}

/** Every event of a response body, decoded as UTF-8; the parser keeps the last id. */
export async function* sseEvents(
  body: ReadableStream<Uint8Array>,
  parser: SseParser = new SseParser(),
): AsyncGenerator<SseEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode());
    parser.end();
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
