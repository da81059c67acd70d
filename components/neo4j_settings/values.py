"""A neo4j.conf value checked by its setting's type, read from the manual's "Valid values" text.

`value_type(text)` turns the text of a setting (components/neo4j_settings/valid-values/<line>.json, copied
from the Operations Manual) into a `ValueType`: what kind of value (boolean, duration, byte size, integer,
enum, socket address, path, list of …), its bounds when the text gives them, and how to say what is
allowed. `ValueType.accepts(value)` is the check. A text no rule here reads is a plain one-line text (the
manual's "A string.", "A secure string.", a timezone, a database name, …).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

# Durations: "Valid units are: `ns`, `μs`, `ms`, `s`, `m`, `h` and `d`; default unit is `s`".
_DURATION_NS = {"ns": 1, "μs": 10 ** 3, "ms": 10 ** 6, "s": 10 ** 9, "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9,
                "d": 86400 * 10 ** 9}
_DURATION = re.compile(r"^(\d+)(ns|μs|ms|s|m|h|d)?$")
_BYTE_POWER = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
_INTEGER = re.compile(r"^-?\d+$")
_DOUBLE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_HOST = r"([A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])"
_SOCKET = re.compile(rf"^({_HOST})?(:\d{{1,5}})?$")
_HOSTNAME = re.compile(rf"^{_HOST}$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_KEY_VALUES = re.compile(r"^([^=;]+=[^;]*)(;[^=;]+=[^;]*)*;?$")
_LIST = re.compile(r"^(?:a ',' separated (?:list|set) with elements of type '(.*)'|"
                   r"a comma-separated (?:list|set) where each element is (.*?))(?:[.,]? ?which .*|, which .*)?$", re.I)
_ENUM = re.compile(r"one of \[([^\]]*)\]", re.I)
_BOUND = r"`?([0-9][0-9.]*[A-Za-zμ]*)`?"


@dataclass(frozen=True)
class ValueType:
    kind: str  # boolean | duration | duration-range | byte size | integer | double | enum | socket address |
    # hostname | path | URI | key-value map | pattern | list | text
    allowed: str  # what the error says is allowed
    _check: Callable[[str], bool]

    def accepts(self, value: str) -> bool:
        return self._check(value)


def duration_ns(value: str) -> int | None:
    match = _DURATION.match(value.strip())
    return None if match is None else int(match.group(1)) * _DURATION_NS[match.group(2) or "s"]


def byte_size(value: str, multipliers: tuple[str, ...] = ()) -> int | None:
    """Bytes of `value` ("512m", "1.00KiB"), or None when it is no byte size (or its multiplier is not listed).
    Every multiplier is a power of 1024 (the manual's list: KiB, KB, K, kB, kb, k all mean 1024)."""
    match = re.match(r"^(\d+(?:\.\d+)?)([A-Za-z]*)$", value.strip())
    if match is None or (multipliers and match.group(2) and match.group(2) not in multipliers):
        return None
    unit = match.group(2).lower().replace("ib", "").rstrip("b") or ("b" if match.group(2) else "")
    if unit not in _BYTE_POWER:
        return None
    return int(float(match.group(1)) * 1024 ** _BYTE_POWER[unit])


def _bounded(measure: Callable[[str], float | None], text: str, unit: str) -> tuple[Callable[[str], bool], str]:
    """The check of a measured value against the text's "minimum `X`", "maximum `Y`", "in the range `X` to `Y`"
    and "is `0B` or …" clauses, and how to say them."""
    low = high = None
    if found := re.search(rf"in the range {_BOUND} to {_BOUND}", text):
        low, high = found.group(1), found.group(2)
    if found := re.search(rf"minimum {_BOUND}", text):
        low = found.group(1)
    if found := re.search(rf"maximum {_BOUND}", text):
        high = found.group(1)
    also = re.findall(r"(?:or )?is `?(0[A-Za-z]*)`? or|or is `?(0[A-Za-z]*)`?", text)
    exceptions = {value for pair in also for value in pair if value}
    low_n = measure(low) if low else None
    high_n = measure(high) if high else None

    def check(value: str) -> bool:
        number = measure(value)
        if number is None:
            return False
        if value.strip() in exceptions or (exceptions and number == 0):
            return True
        return (low_n is None or number >= low_n) and (high_n is None or number <= high_n)

    said = ""
    if low and high:
        said = f" from {low} to {high}"
    elif low:
        said = f" of at least {low}"
    elif high:
        said = f" of at most {high}"
    if exceptions:
        said += " (or " + ", ".join(sorted(exceptions)) + ")"
    return check, said


@cache
def value_type(text: str | None) -> ValueType:
    """The type a setting's "Valid values" text describes (None, no text: any one-line text)."""
    if not text:
        return ValueType("text", "a value on one line", lambda value: True)
    text = re.sub(r"label:\w+\[[^\]]*\]", "", text).strip().rstrip(".").strip()
    lower = text.lower()
    if found := _LIST.match(text):
        element = value_type((found.group(1) or found.group(2)).strip().strip("'"))
        empty_ok = "not be empty" not in lower and "cannot be empty" not in lower

        def each(value: str) -> bool:
            parts = [part.strip() for part in value.split(",")]
            if parts == [""]:
                return empty_ok
            return all(part and element.accepts(part) for part in parts)
        return ValueType("list", f"a comma-separated list, each element {element.allowed}", each)
    if found := _ENUM.search(text):
        options = tuple(option.strip() for option in found.group(1).split(","))
        # Neo4j reads an enum whatever its case (4.4.46 and 5.26.30 start with dbms.routing.default_router=server).
        folded = {option.lower() for option in options}
        return ValueType("enum", "one of " + ", ".join(options), lambda value: value.lower() in folded)
    if lower.startswith("a boolean"):
        return ValueType("boolean", "true or false", lambda value: value.lower() in ("true", "false"))
    if lower.startswith("a duration-range"):
        return ValueType("duration-range", "a duration range <min>-<max> such as 1s-5s",
                         lambda value: len(value.split("-")) == 2
                         and all(duration_ns(part) is not None for part in value.split("-")))
    if lower.startswith("a duration"):
        check, said = _bounded(duration_ns, text, "")
        return ValueType("duration", f"a duration such as 30s (units ns, μs, ms, s, m, h, d){said}", check)
    if lower.startswith("a byte size"):
        listed = tuple(re.findall(r"`([A-Za-z]+)`", text.split(")")[0]))
        check, said = _bounded(lambda value: byte_size(value, listed), text, "")
        return ValueType("byte size", f"a byte size such as 512m, 2GiB or 100k{said}", check)
    if lower.startswith(("an integer", "a long")):
        check, said = _bounded(lambda value: int(value) if _INTEGER.match(value.strip()) else None, text, "")
        return ValueType("integer", f"a whole number{said}", check)
    if lower.startswith("a double"):
        check, said = _bounded(lambda value: float(value) if _DOUBLE.match(value.strip()) else None, text, "")
        return ValueType("double", f"a number{said}", check)
    if lower.startswith("a socket address"):
        return ValueType("socket address", "a socket address hostname:port, hostname or :port",
                         lambda value: bool(value) and bool(_SOCKET.match(value)))
    if lower.startswith("a hostname"):
        return ValueType("hostname", "a hostname without a port", lambda value: bool(_HOSTNAME.match(value)))
    if lower.startswith("a path"):
        if "absolute" in lower:
            return ValueType("path", "an absolute path", lambda value: value.startswith("/"))
        return ValueType("path", "a path", lambda value: bool(value))
    if lower.startswith("a uri"):
        return ValueType("URI", "a URI such as https://idp.example.com/", lambda value: bool(_URI.match(value)))
    if "key value map" in lower or "key-value map" in lower or ("semicolon" in lower and "key-value" in lower):
        empty_ok = "or empty" in lower
        return ValueType("key-value map", "key=value pairs separated by ; (k1=v1;k2=v2)",
                         lambda value: (empty_ok and value == "") or bool(_KEY_VALUES.match(value)))
    if found := re.search(r"matches the pattern `(.+?)`(?: \(|$)", text):
        pattern = found.group(1).replace("{vbar}", "|").replace("\\|", "|")
        try:
            regex = re.compile(pattern)
        except re.error:
            regex = None
        if regex is not None:
            return ValueType("pattern", f"text matching {pattern}", lambda value: bool(regex.fullmatch(value)))
    if "not be empty" in lower or "cannot be empty" in lower:
        return ValueType("text", "a non-empty value on one line", lambda value: bool(value))
    return ValueType("text", "a value on one line", lambda value: True)
