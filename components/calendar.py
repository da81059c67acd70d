"""systemd calendar events (the OnCalendar= of a timer), checked in pure Python: `parse_calendar(text)`.

The grammar is systemd's own (systemd.time(7), "CALENDAR EVENTS"; parsed as src/shared/calendarspec.c does):

    [weekdays] [[year-]month-day | year-month~day] [hour:minute[:second]] [UTC]

each of year, month, day, hour, minute, second a `*` or a comma list of `value`, `start..stop` and `x/step`
(`start..stop/step`); seconds may have six decimals; weekdays `Mon`..`Sun` (or the full names), listed with `,`
and ranged with `..` (or `-`); `~` counts days from the end of the month; the shorthands minutely, hourly,
daily, weekly, monthly, quarterly, semiannually, yearly (and their spellings systemd takes). A value out of
its field's range, a step that cannot repeat within it, a range that ends before it starts: refused, as
systemd refuses them. tests/integration/test_calendar_systemd.py holds a table of expressions against the
real `systemd-analyze calendar`.

Narrower than systemd on purpose, for a schedule that repeats and whose interval `make plan` can state:
no year but `*` and no `@<epoch>` (a backup schedule recurs), no time zone but UTC (the servers' clock is
UTC; restore --until speaks UTC), and the expression must elapse at all (`*-02-30` never does).

`longest_gap(spec)` is the longest time between two consecutive elapses: the recovery point objective of a
backup on that schedule.
"""
from __future__ import annotations

import calendar as _gregorian
import functools
from dataclasses import dataclass
from datetime import date, timedelta

ALLOWED = ("a systemd calendar event (OnCalendar=) that recurs, in UTC, such as \"*-*-* *:00/15:00 UTC\", "
           "\"Sun *-*-* 02:00:00 UTC\", hourly or daily (systemd.time(7); no year, no other time zone)")

_USEC = 1_000_000
_MAX_COMPONENTS = 241  # calendarspec.c: CALENDARSPEC_COMPONENTS_MAX (240) plus the first
_INT_MAX = 2 ** 31 - 1
_WEEKDAYS = (("monday", 0), ("mon", 0), ("tuesday", 1), ("tue", 1), ("wednesday", 2), ("wed", 2),
             ("thursday", 3), ("thu", 3), ("friday", 4), ("fri", 4), ("saturday", 5), ("sat", 5),
             ("sunday", 6), ("sun", 6))
_SHORTHANDS = {  # name: (weekdays, months, days, hours, minutes, seconds) as chains; None = every
    "minutely": (None, None, None, None, None, ((0, -1, 0),)),
    "hourly": (None, None, None, None, ((0, -1, 0),), ((0, -1, 0),)),
    "daily": (None, None, None, ((0, -1, 0),), ((0, -1, 0),), ((0, -1, 0),)),
    "weekly": (frozenset({0}), None, None, ((0, -1, 0),), ((0, -1, 0),), ((0, -1, 0),)),
    "monthly": (None, None, ((1, -1, 0),), ((0, -1, 0),), ((0, -1, 0),), ((0, -1, 0),)),
    "quarterly": (None, ((1, -1, 0), (4, -1, 0), (7, -1, 0), (10, -1, 0)), ((1, -1, 0),), ((0, -1, 0),),
                  ((0, -1, 0),), ((0, -1, 0),)),
    "semiannually": (None, ((1, -1, 0), (7, -1, 0)), ((1, -1, 0),), ((0, -1, 0),), ((0, -1, 0),), ((0, -1, 0),)),
    "yearly": (None, ((1, -1, 0),), ((1, -1, 0),), ((0, -1, 0),), ((0, -1, 0),), ((0, -1, 0),)),
}
for _alias, _name in (("biannually", "semiannually"), ("bi-annually", "semiannually"),
                      ("semi-annually", "semiannually"), ("annually", "yearly"), ("anually", "yearly")):
    _SHORTHANDS[_alias] = _SHORTHANDS[_name]

Chain = tuple[tuple[int, int, int], ...]  # (start, stop or -1, repeat or 0) per component; seconds in µs


@dataclass(frozen=True)
class CalendarSpec:
    text: str
    weekdays: frozenset[int] | None  # 0 = Monday; None = every day
    months: Chain | None
    days: Chain | None
    end_of_month: bool  # `~`: days count back from the month's last
    hours: Chain | None
    minutes: Chain | None
    seconds: Chain  # microseconds


class _InvalidError(Exception):
    pass


def parse_calendar(text: str) -> CalendarSpec:
    """The parsed event; ValueError(ALLOWED, with the reason) for anything systemd or our narrower rule refuses."""
    if not isinstance(text, str):
        raise ValueError(ALLOWED)
    return _parse_text(text)


# Settings are loaded many times per command (and thousands of times per test run) with the same few schedules;
# whether one ever elapses is a walk over a 28-year cycle, so each text is checked once per process.
@functools.lru_cache(maxsize=256)
def _parse_text(text: str) -> CalendarSpec:
    try:
        spec = _parse(text.strip())
    except _InvalidError as why:
        raise ValueError(f"{ALLOWED}{'; ' + str(why) if str(why) else ''}") from None
    if not _elapsing_days(spec, date(2001, 1, 1), 28 * 366):
        raise ValueError(f"{ALLOWED}; this one never elapses")
    return spec


def _parse(text: str) -> CalendarSpec:
    body = text
    if body.lower().endswith(" utc"):
        body = body[:-4]
    if not body:
        raise _InvalidError("")
    shorthand = _SHORTHANDS.get(body.lower())
    if shorthand is not None:
        weekdays, months, days, hours, minutes, seconds = shorthand
        return CalendarSpec(text, weekdays, months, days, False, hours, minutes,
                            tuple((s * _USEC, e, r) for s, e, r in seconds))
    if body.startswith("@"):
        raise _InvalidError("a single moment (@<seconds>) does not recur")
    weekdays, rest = _weekdays(body)
    years, months, days, end_of_month, rest = _date(rest)
    if years is not None:
        raise _InvalidError("a schedule with a year does not recur: write * for it")
    hours, minutes, seconds = _time(rest)
    if end_of_month and days is None:
        end_of_month = False
    months, days, hours, minutes, seconds = (_normalized(c) for c in (months, days, hours, minutes, seconds))
    for chain, low, high, eom in ((months, 1, 12, False), (days, 1, 31, end_of_month), (hours, 0, 23, False),
                                  (minutes, 0, 59, False), (seconds, 0, 60 * _USEC - 1, False)):
        if not _chain_valid(chain, low, high, eom):
            raise _InvalidError("a value, range or step out of its field's range")
    if weekdays is not None and len(weekdays) == 7:
        weekdays = None
    return CalendarSpec(text, weekdays, months, days, end_of_month, hours, minutes, seconds)


def _weekdays(text: str) -> tuple[frozenset[int] | None, str]:
    days: set[int] = set()
    low = -1
    first = True
    p = text
    while True:
        found = next(((name, number) for name, number in _WEEKDAYS if p[:len(name)].lower() == name), None)
        if found is None:
            if first:
                return None, text
            raise _InvalidError("a weekday list that does not end in a weekday")
        name, number = found
        p = p[len(name):]
        if p[:1] not in ("", "-", ".", ",", " "):
            raise _InvalidError("")
        if low >= 0:
            if low > number:
                raise _InvalidError("a weekday range that runs backwards")
            days.update(range(low, number))
        days.add(number)
        if not p:
            return frozenset(days), p
        if p[0] == " ":
            return frozenset(days), p.lstrip(" ")
        if p[0] == ".":
            if low >= 0 or p[1:2] != ".":
                raise _InvalidError("")
            low, p = number, p[2:]
        elif p[0] == "-":
            if low >= 0:
                raise _InvalidError("")
            low, p = number, p[1:]
        elif p[0] == ",":
            low, p = -1, p[1:]
        if p[:1] in ("", " "):
            if low >= 0:
                raise _InvalidError("an open weekday range")
            return frozenset(days), p.lstrip(" ")
        first = False


def _number(p: str, usec: bool) -> tuple[int, str]:
    digits = len(p) - len(p.lstrip("0123456789"))
    if not digits:
        raise _InvalidError("")
    value, p = int(p[:digits]), p[digits:]
    if usec:
        value *= _USEC
        if p[:1] == "." and p[1:2] != ".":
            p = p[1:]
            fraction = len(p) - len(p.lstrip("0123456789"))
            if not fraction:
                raise _InvalidError("")
            text = p[:fraction]
            add = int(text[:6].ljust(6, "0")) + (1 if len(text) > 6 and text[6] >= "5" else 0)
            value, p = value + add, p[fraction:]
    if value > _INT_MAX:
        raise _InvalidError("a value out of its field's range")
    return value, p


def _chain(p: str, usec: bool) -> tuple[Chain | None, str]:
    if p[:1] == "*":
        return (((0, -1, _USEC),) if usec else None), p[1:]
    parts = []
    while True:
        if len(parts) >= _MAX_COMPONENTS:
            raise _InvalidError("too many values")
        start, p = _number(p, usec)
        stop, repeat = -1, 0
        if p[:2] == "..":
            stop, p = _number(p[2:], usec)
            repeat = _USEC if usec else 1
        if p[:1] == "/":
            repeat, p = _number(p[1:], usec)
            if repeat == 0:
                raise _InvalidError("a step of 0")
        elif usec and stop >= 0 and start + repeat > stop:
            raise _InvalidError("a range of seconds shorter than a second")
        if p[:1] not in ("", " ", ",", "-", "~", ":"):
            raise _InvalidError("")
        parts.append((start, stop, repeat))
        if p[:1] != ",":
            return tuple(parts), p
        p = p[1:]


def _date(p: str) -> tuple[Chain | None, Chain | None, Chain | None, bool, str]:
    """(years, months, days, end of month, the rest): like calendarspec.c, a first part followed by `:` (or
    nothing) was the hour, and the text is given back whole."""
    if not p:
        return None, None, None, False, p
    first, t = _chain(p, False)
    if t[:1] in ("", ":"):
        return None, None, None, False, p
    if t[0] not in "-~":
        raise _InvalidError("")
    end_of_month = t[0] == "~"
    second, t = _chain(t[1:], False)
    if t[:1] in ("", " "):
        return None, first, second, end_of_month, t.lstrip(" ")
    if end_of_month or t[0] not in "-~":
        raise _InvalidError("")
    end_of_month = t[0] == "~"
    third, t = _chain(t[1:], False)
    if t[:1] not in ("", " "):
        raise _InvalidError("")
    years = None if first is None else first  # fix_year's 2-digit years do not matter: any year is refused
    return years, second, third, end_of_month, t.lstrip(" ")


def _time(p: str) -> tuple[Chain | None, Chain | None, Chain]:
    if not p:
        return ((0, -1, 0),), ((0, -1, 0),), ((0, -1, 0),)
    hours, p = _chain(p, False)
    if p[:1] != ":":
        raise _InvalidError("")
    minutes, p = _chain(p[1:], False)
    if not p:
        return hours, minutes, ((0, -1, 0),)
    if p[0] != ":":
        raise _InvalidError("")
    seconds, p = _chain(p[1:], True)
    if p:
        raise _InvalidError("")
    return hours, minutes, seconds


def _normalized(chain: Chain | None) -> Chain | None:
    """A range shortened to a whole number of steps, one of a single value made that value; sorted; repeats
    dropped (as systemd 252's calendarspec.c normalize_chain)."""
    if chain is None:
        return None
    fixed = []
    for start, stop, repeat in chain:
        if stop > start and repeat > 0:
            stop -= (stop - start) % repeat
        if (stop > start and stop - start < repeat) or start == stop:
            stop, repeat = -1, 0  # a step that cannot repeat, or a range of one value: that value
        fixed.append((start, stop, repeat))
    return tuple(sorted(set(fixed)))


def _chain_valid(chain: Chain | None, low: int, high: int, end_of_month: bool) -> bool:
    if chain is None:
        return True
    for start, stop, repeat in chain:
        if end_of_month:
            high -= 3  # no more than 28 days back from the month's end; systemd 252 takes 3 more off per value
        if not low <= start <= high or repeat > high - low:
            return False
        if stop >= 0:
            if not low <= stop <= high or start + repeat > stop:
                return False
        elif end_of_month and start - repeat < low:
            return False
        elif not end_of_month and start + repeat > high:
            return False
    return True


# --- when it elapses ------------------------------------------------------------------------------------


def _values(chain: Chain | None, low: int, high: int) -> set[int]:
    if chain is None:
        return set(range(low, high + 1))
    found: set[int] = set()
    for start, stop, repeat in chain:
        if repeat == 0:
            found.add(start)
        else:
            found.update(range(start, (stop if stop >= 0 else high) + 1, repeat))
    return {v for v in found if low <= v <= high}


def _days_of(spec: CalendarSpec, year: int, month: int) -> set[int]:
    last = _gregorian.monthrange(year, month)[1]
    if not spec.end_of_month or spec.days is None:
        return {d for d in _values(spec.days, 1, 31) if d <= last}
    found: set[int] = set()
    for start, stop, repeat in spec.days:  # counted back: day k is last + 1 - k
        if stop < 0:
            first = last + 1 - start
            found.update(range(first, last + 1, repeat) if repeat else {first})
        else:
            found.update(range(last + 1 - stop, last + 2 - start, repeat))
    return {d for d in found if 1 <= d <= last}


def _elapsing_days(spec: CalendarSpec, start: date, count: int) -> list[date]:
    months = _values(spec.months, 1, 12)
    found = []
    day = start
    cache: dict[tuple[int, int], set[int]] = {}
    for _ in range(count):
        if day.month in months:
            key = (day.year, day.month)
            if key not in cache:
                cache[key] = _days_of(spec, *key)
            if day.day in cache[key] and (spec.weekdays is None or day.weekday() in spec.weekdays):
                found.append(day)
        day += timedelta(days=1)
    return found


@functools.lru_cache(maxsize=256)
def longest_gap(spec: CalendarSpec) -> float:
    """Seconds of the longest wait between two consecutive elapses, over a whole 28-year Gregorian cycle
    (weekdays and leap years both repeat after it within 1901-2099)."""
    seconds = sorted(s / _USEC for s in _values(spec.seconds, 0, 60 * _USEC - 1))
    minutes = sorted(h * 60 + m for h in _values(spec.hours, 0, 23) for m in _values(spec.minutes, 0, 59))
    days = _elapsing_days(spec, date(2001, 1, 1), 28 * 366)
    gap = max((b - a for a, b in zip(seconds, seconds[1:], strict=False)), default=0.0)
    for a, b in zip(minutes, minutes[1:], strict=False):
        gap = max(gap, (b - a) * 60 - seconds[-1] + seconds[0])
    first, last = minutes[0] * 60 + seconds[0], minutes[-1] * 60 + seconds[-1]
    for a, b in zip(days, days[1:], strict=False):
        gap = max(gap, (b - a).days * 86400 - last + first)
    return gap
