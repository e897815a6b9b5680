"""hw_sim scripts under fuzzing (spec/lane-input.md, "hw_sim scripts").

Any text parses to commands or raises ``ScriptError`` naming the file, the line (as an
editor numbers it) and the command; never another exception. What parses is what the
runner can run: each argument converts as ``hw_sim.lane_sim`` converts it (a weight to
grams, seconds to a float, a time the simulated clock can run on from), and a command's
own text parses back to the same command. The samples (hw_sim/samples/*.script) are
mutated line by line, and random text is tried too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from firmware_app.config import KEY_NAMES
from hw_sim.script import CHECKERS, Command, ScriptError, parse_script
from tests.fuzz.test_fuzz_data_mutations import ODD_TEXT, fuzz_settings

SAMPLES = sorted((Path(__file__).parents[2] / "hw_sim/samples").glob("*.script"))
SAMPLE_LINES = [line for path in SAMPLES for line in path.read_text("utf-8").split("\n")]
# Line breaks as an editor shows them; anything else (form feed, NEL, U+2028) is
# within a line.
LINE_BREAK = re.compile(r"\r\n|\r|\n")
WORDS = [
    *CHECKERS,
    *sorted(KEY_NAMES),
    "idle", "motion", "over", "under", "unplug", "plug", "pull", "replug", "close", "jam",
    "stick", "unjam", "approve", "decline", "paper", "out-after", "near-end", "cutter", "ok",
    "cover", "open", "closed", "#", "0", "0.532", "99.999", "100", "-1", "1e3", "NaN", "3600",
    "2026-12-24T22:30:00+08:00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
    "]E06954767410388",
]  # fmt: skip
SEPARATORS = [" ", "  ", "\t", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u3000", "\r"]


def runnable(command: Command) -> None:
    """Run ``command``'s argument conversions as the runner does (hw_sim/lane_sim.py)."""
    verb, args = command.verb, command.args
    if verb == "scale" and args[0] not in ("motion", "over", "under", "unplug", "plug"):
        if args[0] not in ("pull", "replug"):
            grams = int(Decimal(args[0]) * 1000)
            assert 0 <= grams <= 99_999
    elif verb == "sleep":
        assert 0 <= float(args[0]) <= 3600
    elif verb == "clock":
        when = datetime.fromisoformat(args[0])
        # The simulated clock runs on from there: a year on, in UTC, it still tells time.
        (when + timedelta(days=366)).astimezone(UTC)
        (when - timedelta(days=1)).astimezone(UTC)
    elif verb == "printer" and args[:2] == ("paper", "out-after"):
        assert 0 <= int(args[2]) <= 10_000
    elif verb == "type":
        assert all(c in "0123456789." for c in args[0])
    elif verb == "key":
        assert all(name in KEY_NAMES for name in args)


def check(text: str) -> list[Command]:
    """Parse ``text``: commands that run, or a ``ScriptError`` naming its line."""
    lines = LINE_BREAK.split(text)
    try:
        commands = parse_script(text, source="s.script")
    except ScriptError as e:
        found = re.match(r"s\.script:(\d+): (.*?): \S", str(e), re.DOTALL)
        assert found, str(e)
        number, verb = int(found[1]), found[2]
        assert 1 <= number <= len(lines) and verb in lines[number - 1], (str(e), lines)
        return []
    for command in commands:
        assert command.verb in lines[command.line - 1], (command, lines)
        runnable(command)
        (again,) = parse_script(command.text, first_line=command.line)
        assert again == command
    return commands


@st.composite
def mutated_script(draw: st.DrawFn) -> str:
    """The samples' lines, some of them changed: a word replaced, added or dropped,
    another separator, a line doubled, dropped or cut."""
    lines = draw(st.lists(st.sampled_from(SAMPLE_LINES), min_size=1, max_size=12))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        words = lines[i].split(" ")
        how = draw(st.sampled_from(["word", "add", "drop", "separator", "double", "cut", "odd"]))
        if how == "word":
            words[draw(st.integers(0, len(words) - 1))] = draw(st.sampled_from(WORDS))
        elif how == "add":
            words.insert(draw(st.integers(0, len(words))), draw(st.sampled_from(WORDS)))
        elif how == "drop" and len(words) > 1:
            del words[draw(st.integers(0, len(words) - 1))]
        elif how == "odd":
            words.append(draw(st.sampled_from(ODD_TEXT)))
        lines[i] = draw(st.sampled_from(SEPARATORS)).join(words)
        if how == "double":
            lines.insert(i, lines[i])
        elif how == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)


@fuzz_settings(200)
@given(mutated_script())
@example("scan A\x85B")  # NEL: within the line, as an editor shows it
@example("# a comment\x0cscan 123\nkey FIRE")
@example("clock 9999-12-31T23:59:59-23:59")  # a clock that cannot run on
@example("clock 0001-01-01T00:00:00+23:59")  # nor go to UTC
def test_a_mutated_sample_parses_to_runnable_commands_or_names_its_line(text: str) -> None:
    check(text)


@fuzz_settings(200)
@given(st.text(max_size=80) | st.lists(st.sampled_from(WORDS + SEPARATORS)).map("".join))
def test_any_text_parses_to_runnable_commands_or_names_its_line(text: str) -> None:
    check(text)


def test_the_samples_parse_whole() -> None:
    for path in SAMPLES:
        assert check(path.read_text("utf-8"))
