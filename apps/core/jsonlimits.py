"""JSON from callers, bounded before it is parsed (issue 14, L1 and L4).

Python's parser recurses once per nesting level, so a body of ten thousand ``[`` raised
RecursionError (a 500) before the API key was even looked at. Depth is measured here with a
scan of the bracket characters outside strings, in time linear in the body, and a body past
``JSON_MAX_DEPTH`` is refused with a message; the API's own shapes nest three or four deep.
Text holding NUL characters is refused too: PostgreSQL cannot store them in text or jsonb.
"""

import json
import re
from itertools import accumulate

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

JSON_MAX_DEPTH = 32
# A JSON string, written "unrolled" (runs of plain characters, then one escape) so that a
# megabyte-long string is one fast match rather than a million alternations.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_STEPS = str.maketrans({"[": "\x02", "{": "\x02", "]": "\x00", "}": "\x00"})


class JSONLimitError(ValueError):
    """A body past a limit, with a message for the caller."""


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (strings skipped), in linear
    time and without recursion: tens of milliseconds for a body at Django's 2.5 MB cap."""
    brackets = "".join(_BRACKET.findall(_STRING.sub('""', text)))
    steps = brackets.translate(_STEPS).encode("latin-1")  # b"\x02" opens, b"\x00" closes
    return max(accumulate(b - 1 for b in steps), default=0)


def has_nul(value) -> bool:
    """Whether any string in ``value`` (keys too) holds a NUL character; no recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def json_loads_bounded(raw: bytes | str, *, max_depth: int = JSON_MAX_DEPTH):
    """``json.loads`` that refuses deep nesting and NUL characters with JSONLimitError, and
    malformed JSON with ValueError as usual."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    if json_depth(text) > max_depth:
        raise JSONLimitError(f"the JSON nests deeper than {max_depth} levels.")
    data = json.loads(text)
    if has_nul(data):
        raise JSONLimitError("text must not contain NUL characters (\\u0000).")
    return data


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the bounds above: a clear 400 instead of a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            return json_loads_bounded(stream.read().decode(encoding))
        except JSONLimitError as exc:
            raise ParseError(str(exc)) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
