/**
 * The event-stream parser, without a server: `npm test` (node's test runner).
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { SseParser, sseEvents, type SseEvent } from "../src/sse.js";

/** Every event of `pieces` pushed one after another. */
function parse(pieces: string[], parser = new SseParser()): SseEvent[] {
  return pieces.flatMap((piece) => parser.push(piece));
}

test("an event's fields: name, data and id", () => {
  assert.deepEqual(parse(["event: changed\nid: 7\ndata: {\"id\":1}\n\n"]), [
    { event: "changed", data: '{"id":1}', lastEventId: "7", hasId: true },
  ]);
});

test("data lines join with a newline, and an event without a name is a message", () => {
  const [event] = parse(["data: first\ndata:second\ndata:  third\n\n"]);
  assert.equal(event?.event, "message");
  assert.equal(event?.data, "first\nsecond\n third", "one space after the colon is dropped, no more");
});

test("comments are skipped, and a block of comments alone is no event", () => {
  assert.deepEqual(parse([": heartbeat\n\n", ":\n\n"]), []);
  const events = parse([": before\nevent: deleted\n: between\ndata: {\"id\": 3}\n\n"]);
  assert.deepEqual(
    events.map((e) => [e.event, e.data]),
    [["deleted", '{"id": 3}']],
  );
});

test("the last id persists to events without one, which say they had none", () => {
  const events = parse(["id: a\ndata: 1\n\n", "data: 2\n\n", "event: changed\ndata: 3\nid: b\n\n"]);
  assert.deepEqual(
    events.map((e) => [e.data, e.lastEventId, e.hasId]),
    [
      ["1", "a", true],
      ["2", "a", false],
      ["3", "b", true],
    ],
  );
});

test("an id alone moves the last id without an event, and an empty id clears it", () => {
  const parser = new SseParser("start");
  assert.deepEqual(parse(["id: later\n\n"], parser), []);
  assert.equal(parser.lastEventId, "later");
  parse(["id\n\n"], parser);
  assert.equal(parser.lastEventId, "");
});

test("an id holding NUL is ignored", () => {
  const parser = new SseParser("kept");
  parse(["id: a\0b\ndata: x\n\n"], parser);
  assert.equal(parser.lastEventId, "kept");
});

test("lines end in LF, CRLF or CR, even when a CRLF is split between pieces", () => {
  const expected = [["changed", "x"], ["deleted", "y"]];
  for (const newline of ["\n", "\r\n", "\r"]) {
    const text = `event: changed${newline}data: x${newline}${newline}event: deleted${newline}data: y${newline}${newline}`;
    // Every split into two pieces gives the same events.
    for (let at = 0; at <= text.length; at++) {
      const events = parse([text.slice(0, at), text.slice(at)]);
      assert.deepEqual(
        events.map((e) => [e.event, e.data]),
        expected,
        `${JSON.stringify(newline)} split at ${at}`,
      );
    }
  }
});

test("an event is dispatched only at its blank line", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push("event: changed\ndata: {"), []);
  assert.deepEqual(parser.push("}\n"), []);
  assert.equal(parser.push("\n")[0]?.data, "{}");
});

test("a field without a colon has an empty value, and an empty data line counts", () => {
  const [event] = parse(["data\n\n"]);
  assert.equal(event?.data, "");
  assert.deepEqual(
    parse(["data:\ndata:\n\n"]).map((e) => e.data),
    ["\n"],
  );
});

test("retry is read as milliseconds; unknown fields are ignored", () => {
  const parser = new SseParser();
  assert.deepEqual(parse(["retry: 2500\nfoo: bar\n\n", "retry: soon\n\n"], parser), []);
  assert.equal(parser.retry, 2500);
});

test("a leading byte order mark is dropped, once", () => {
  const [event] = parse(["\uFEFFdata: x\n\n"]);
  assert.equal(event?.data, "x");
  assert.deepEqual(parse(["\uFEFF", "event: e\ndata: y\n\n"]).map((e) => e.event), ["e"]);
});

test("a body split inside a multi-byte character decodes whole, and an unfinished event is dropped", async () => {
  const bytes = new TextEncoder().encode('event: changed\ndata: {"title":"café ☕"}\n\nevent: changed\ndata: cut');
  const split = bytes.indexOf(0xe2) + 1; // inside ☕
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, split));
      controller.enqueue(bytes.slice(split));
      controller.close();
    },
  });
  const events: SseEvent[] = [];
  for await (const event of sseEvents(body)) events.push(event);
  assert.deepEqual(
    events.map((e) => e.data),
    ['{"title":"café ☕"}'],
  );
});
