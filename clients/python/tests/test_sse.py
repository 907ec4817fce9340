"""The event-stream parser, without a server: `python -m unittest discover -s tests`."""

from __future__ import annotations

import unittest

from todo_api_helpers import SseEvent, SseParser, sse_events


def parse(pieces: list[str], parser: SseParser | None = None) -> list[SseEvent]:
    parser = parser if parser is not None else SseParser()
    return [event for piece in pieces for event in parser.push(piece)]


class SseParserTest(unittest.TestCase):
    def test_an_events_fields_name_data_and_id(self) -> None:
        self.assertEqual(
            parse(['event: changed\nid: 7\ndata: {"id":1}\n\n']),
            [SseEvent("changed", '{"id":1}', "7", True)],
        )

    def test_data_lines_join_with_a_newline_and_an_unnamed_event_is_a_message(self) -> None:
        [event] = parse(["data: first\ndata:second\ndata:  third\n\n"])
        self.assertEqual(event.event, "message")
        self.assertEqual(event.data, "first\nsecond\n third")

    def test_comments_are_skipped_and_comments_alone_are_no_event(self) -> None:
        self.assertEqual(parse([": heartbeat\n\n", ":\n\n"]), [])
        events = parse([': before\nevent: deleted\n: between\ndata: {"id": 3}\n\n'])
        self.assertEqual([(e.event, e.data) for e in events], [("deleted", '{"id": 3}')])

    def test_the_last_id_persists_to_events_without_one(self) -> None:
        events = parse(["id: a\ndata: 1\n\n", "data: 2\n\n", "event: changed\ndata: 3\nid: b\n\n"])
        self.assertEqual(
            [(e.data, e.last_event_id, e.has_id) for e in events],
            [("1", "a", True), ("2", "a", False), ("3", "b", True)],
        )

    def test_an_id_alone_moves_the_last_id_and_an_empty_one_clears_it(self) -> None:
        parser = SseParser("start")
        self.assertEqual(parse(["id: later\n\n"], parser), [])
        self.assertEqual(parser.last_event_id, "later")
        parse(["id\n\n"], parser)
        self.assertEqual(parser.last_event_id, "")

    def test_an_id_holding_nul_is_ignored(self) -> None:
        parser = SseParser("kept")
        parse(["id: a\0b\ndata: x\n\n"], parser)
        self.assertEqual(parser.last_event_id, "kept")

    def test_lines_end_in_lf_crlf_or_cr_wherever_the_text_is_split(self) -> None:
        for newline in ["\n", "\r\n", "\r"]:
            n = newline
            text = f"event: changed{n}data: x{n}{n}event: deleted{n}data: y{n}{n}"
            for at in range(len(text) + 1):
                events = parse([text[:at], text[at:]])
                self.assertEqual(
                    [(e.event, e.data) for e in events],
                    [("changed", "x"), ("deleted", "y")],
                    f"{newline!r} split at {at}",
                )

    def test_other_line_separators_stay_in_the_data(self) -> None:
        [event] = parse(['data: {"title": "a\u2028b\x85c\x0bd"}\n\n'])
        self.assertEqual(event.data, '{"title": "a\u2028b\x85c\x0bd"}')

    def test_an_event_is_dispatched_only_at_its_blank_line(self) -> None:
        parser = SseParser()
        self.assertEqual(parser.push("event: changed\ndata: {"), [])
        self.assertEqual(parser.push("}\n"), [])
        self.assertEqual(parser.push("\n")[0].data, "{}")

    def test_a_field_without_a_colon_is_empty_and_empty_data_counts(self) -> None:
        self.assertEqual([e.data for e in parse(["data\n\n"])], [""])
        self.assertEqual([e.data for e in parse(["data:\ndata:\n\n"])], ["\n"])

    def test_retry_is_read_and_unknown_fields_are_ignored(self) -> None:
        parser = SseParser()
        self.assertEqual(parse(["retry: 2500\nfoo: bar\n\n", "retry: soon\n\n"], parser), [])
        self.assertEqual(parser.retry, 2500)

    def test_a_leading_byte_order_mark_is_dropped(self) -> None:
        self.assertEqual([e.data for e in parse(["\ufeffdata: x\n\n"])], ["x"])
        self.assertEqual([e.event for e in parse(["\ufeff", "event: e\ndata: y\n\n"])], ["e"])

    def test_an_unfinished_last_event_is_dropped_at_the_end(self) -> None:
        events = list(sse_events(["data: whole\n\n", "event: changed\ndata: cut"]))
        self.assertEqual([e.data for e in events], ["whole"])


if __name__ == "__main__":
    unittest.main()
