"""components/calendar.py against the real `systemd-analyze calendar`, the program that reads OnCalendar=.

Every expression the pure-Python check accepts, systemd accepts (and it elapses); every expression of the
grammar table it refuses, systemd refuses too, except the few we refuse on purpose (a year, @<epoch>, a time
zone other than UTC, one that never elapses), each listed with its reason and shown accepted by systemd. The
interval `make plan` states is compared with systemd's own next elapses.
"""
from __future__ import annotations

import random
import subprocess
from datetime import UTC, datetime

import pytest

from components.calendar import longest_gap, parse_calendar
from tests.conftest import require_tool

pytestmark = pytest.mark.integration

VALID = [
    "*-*-* *:00/15:00 UTC", "Sun *-*-* 02:00:00 UTC", "*-*-* 02:00:00 UTC", "hourly", "daily", "weekly",
    "minutely", "monthly", "quarterly", "semiannually", "semi-annually", "bi-annually", "yearly", "annually",
    "anually", "DAILY", "daily UTC", "weekly utc", "Mon..Fri 02:00", "Mon-Fri *-*-* 02:00", "mon,tue,sun 03:00",
    "Monday,Wednesday 03:30", "Mon,", "Mon, 02:00", "Sat,Sun", "Mon..Wed,Fri 01:00", "*:0/15", "*:00/5:30",
    "*-*-* 00/2:00", "*-*-* 1..5:00", "*-*-* 1..10/3:00", "*-*-* 08..17:00/30", "*-*-* *:*:*",
    "*-*-* *:*:0/10", "*-*-* 02:00:30.5", "*-*-* 02:00:10.1234567", "*:*:10..20.5", "*-*~03", "*-*~01..07",
    "*-02~01", "*-*-01 00:00", "12-25", "*-12-25 06:00", "*-01,04,07,10-01 00:00", "*-*-1,15 12:00",
    "*-*-* 23:59:59", "*-*-* 0:0:0", "Fri *-*-13", "*-*-* 02:00:59.999999", "*-*-01/7", "*-*-* 00:00/59",
    "*-*~3,5", "*-*-* 00:00:40..40/5", "*-*-9..9", "*-9..9-01", "*-5..12,10~12/11",
    "*-02-29",  # leap years only: it elapses every four years
]
INVALID = [
    "", "UTC", " UTC", "*-*-* 25:00", "*-*-* 02:60", "*-*-* 02:00:60", "02:00.5", "13/5", "00/0:00",
    "*:50/15", "*-13-01", "*-00-01", "*-*-32", "*-*-00", "Fri..Mon", "Mon..", "Mon..Tue..Wed", "Mon.Tue",
    "Monx", "Mo 02:00", "*-*-* 02:00:00 UTC UTC", "*-*~29", "*-*~01/1", "1,", "1,*:00", "*-*-* 2:", ":00",
    "*-*-* 02:00:", "*-*-* 02:00:00 x", "every day", "*-*-*-*", "*-*-* 5..1:00", "*-*-* 1/0:00",
    "*-*-* 02:00:00.", "daily daily", "*-*-* 99999999999:00", "*-*-* 02:00:00..", "@", "Mon-Tue-Wed",
    "*-*~10..18,27",  # systemd takes 3 more days off the end-of-month bound for each further value
    "*-*-* 00:00:40..40",  # a range of seconds without a step must span a second

]
# systemd takes these; we refuse them on purpose (see components/calendar.py).
OURS_ONLY_REFUSED = {
    "2026-01-01 02:00": "a year: the schedule would not recur",
    "*-*-* 02:00 Europe/Berlin": "a time zone other than UTC",
    "@1700000000": "a single moment",
    "*-02-30": "never elapses",
    "2099-*-* 02:00": "a year",
    "02-01~03": "a year (2002), month and day counted from its end",
}


def systemd(expression: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([require_tool("systemd-analyze"), "calendar", *options, expression],
                          capture_output=True, text=True, timeout=30, env={"TZ": "UTC", "LC_ALL": "C"})


def elapses(result: subprocess.CompletedProcess) -> bool:
    return result.returncode == 0 and "Next elapse: never" not in result.stdout


@pytest.mark.parametrize("expression", VALID)
def test_what_the_check_accepts_systemd_accepts(expression):
    parse_calendar(expression)
    result = systemd(expression)
    assert elapses(result), result.stdout + result.stderr


@pytest.mark.parametrize("expression", INVALID)
def test_what_the_check_refuses_systemd_refuses(expression):
    with pytest.raises(ValueError, match="systemd calendar event"):
        parse_calendar(expression)
    result = systemd(expression)
    assert result.returncode != 0, result.stdout


@pytest.mark.parametrize("expression", sorted(OURS_ONLY_REFUSED))
def test_the_narrower_rule_refuses_what_systemd_accepts(expression):
    with pytest.raises(ValueError, match="recurs, in UTC"):
        parse_calendar(expression)
    assert systemd(expression).returncode == 0, "systemd refuses it too: move it to INVALID"


@pytest.mark.parametrize("expression, minutes", [
    ("*-*-* *:00/15:00 UTC", 15), ("hourly", 60), ("Sun *-*-* 02:00:00 UTC", 7 * 24 * 60),
    ("Mon..Fri 02:00", 3 * 24 * 60), ("*-*-* 08..17:00/30", 14 * 60 + 30), ("*-*-* 00/6:00", 6 * 60),
])
def test_the_longest_gap_is_the_one_between_systemds_own_elapses(expression, minutes):
    result = systemd(expression, "--iterations=60", "--base-time=2026-03-02 00:00:00 UTC")
    assert result.returncode == 0, result.stderr
    stamps = [line.split(":", 1)[1].strip() for line in result.stdout.splitlines()
              if "Next elapse:" in line or "Iter. #" in line]
    times = [datetime.strptime(s.split(" ", 1)[1].rsplit(" ", 1)[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
             for s in stamps]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert len(times) == 60 and max(gaps) == longest_gap(parse_calendar(expression)) == minutes * 60


def _generated(seed: int, count: int) -> list[str]:
    """Expressions near the grammar's edges: ranges, steps and lists in every field, weekdays, `~`, UTC."""
    rng = random.Random(seed)

    def field(low: int, high: int) -> str:
        shape = rng.choice(["*", "v", "v..v", "v/s", "v..v/s", "v,v", "v..v,v"])
        return "".join(str(rng.randint(low, high + 2)) if c == "v" else str(rng.randint(0, high // 2 + 1))
                       if c == "s" else c for c in shape)
    return [(rng.choice(["", "Mon ", "Mon..Fri ", "Sat,Sun ", "Tue-Thu ", "Sun,Mon "])
             + rng.choice(["", f"*-{field(1, 12)}{rng.choice('-~')}{field(1, 31)} "])
             + f"{field(0, 23)}:{field(0, 59)}" + rng.choice(["", f":{field(0, 59)}"])
             + rng.choice(["", " UTC"])).strip() for _ in range(count)]


def test_generated_expressions_get_systemds_verdict():
    disagree = []
    for expression in _generated(20, 300):
        try:
            parse_calendar(expression)
            ours = True
        except ValueError:
            ours = False
        if ours != elapses(systemd(expression)):
            disagree.append(f"{expression!r}: ours {'accepts' if ours else 'refuses'}")
    assert not disagree, disagree
