"""Server-Sent Events read from text arriving in pieces, as the HTML standard's event-stream
parser reads them: lines end in CRLF, LF or CR (and nothing else: a task's text may hold
U+2028, which `str.splitlines` would split on); `data:` lines join with a newline; comments
(`:`) are skipped; `id:` persists from event to event; a blank line ends an event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["SseEvent", "SseParser", "sse_events"]

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SseEvent:
    """One event as it was sent."""

    #: `event:`; "message" when the event named none.
    event: str
    #: The `data:` lines, joined with a newline.
    data: str
    #: The last event id after this event: its own `id:`, or the latest one before it.
    last_event_id: str
    #: Whether this event carried an `id:` line itself.
    has_id: bool


class SseParser:
    """Feed it text with `push`, split anywhere (even inside a CRLF); it returns the events
    each piece completed. `last_event_id` is what to send back as `Last-Event-ID`."""

    def __init__(self, last_event_id: str = "") -> None:
        self.last_event_id = last_event_id
        #: The latest `retry:` in milliseconds, when the server sent one.
        self.retry: int | None = None
        self._buffer = ""
        self._started = False
        self._skip_lf = False
        self._event = ""
        self._data: list[str] = []
        self._has_id = False

    def push(self, text: str) -> list[SseEvent]:
        self._buffer += text
        if self._skip_lf and self._buffer:
            # The CR that ended the last piece's last line was half of a CRLF.
            self._buffer = self._buffer.removeprefix("\n")
            self._skip_lf = False
        if not self._started and self._buffer:
            self._started = True
            self._buffer = self._buffer.removeprefix("\ufeff")
        events: list[SseEvent] = []
        start = 0
        for match in _LINE_END.finditer(self._buffer):
            if match.group() == "\r" and match.end() == len(self._buffer):
                self._skip_lf = True
            event = self._line(self._buffer[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
        self._buffer = self._buffer[start:]
        return events

    def end(self) -> None:
        """The end of the stream: a last event without its blank line is dropped."""
        self._buffer = ""
        self._skip_lf = False
        self._event, self._data, self._has_id = "", [], False

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
                self._has_id = True
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        event = None
        if self._data:
            event = SseEvent(
                self._event or "message", "\n".join(self._data), self.last_event_id, self._has_id
            )
        self._event, self._data, self._has_id = "", [], False
        return event


def sse_events(pieces: Iterable[str], parser: SseParser | None = None) -> Iterator[SseEvent]:
    """Every event of text arriving in `pieces` (e.g. `httpx.Response.iter_text()`)."""
    parser = parser if parser is not None else SseParser()
    for piece in pieces:
        yield from parser.push(piece)
    parser.end()
