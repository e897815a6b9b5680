"""bench.all's table: verdicts against targets on the figure or its ratio to the
ceiling, proposed targets marked, a line per missed target, failed sections shown;
the machine's description; and one tiny section run end to end."""

from __future__ import annotations

import pytest

from bench.machine import cpu_model, ram_gb
from bench.verdicts import Bound, On, Row, Target, misses, report, table


@pytest.mark.parametrize(
    ("target", "figure", "ceiling", "held"),
    [
        (Target(Bound.BELOW, 5), 4.99, None, True),
        (Target(Bound.BELOW, 5), 5.0, None, False),
        (Target(Bound.AT_MOST, 5), 5.0, None, True),
        (Target(Bound.AT_LEAST, 0.6, On.RATIO), 600, 1000, True),
        (Target(Bound.AT_LEAST, 0.6, On.RATIO), 599, 1000, False),
        (Target(Bound.AT_MOST, 2, On.RATIO), 2.0, 1.0, True),
        (Target(Bound.AT_MOST, 2, On.RATIO), 2.01, 1.0, False),
        (Target(Bound.AT_MOST, 2, On.RATIO), 2.0, None, None),  # no ceiling: no verdict
        (Target(Bound.AT_MOST, 2, On.RATIO), 2.0, 0.0, None),
    ],
)
def test_a_target_holds_on_the_figure_or_its_ratio(
    target: Target, figure: float, ceiling: float | None, held: bool | None
) -> None:
    assert target.holds(figure, ceiling) is held


def test_a_target_says_its_bound_unit_and_where_it_was_set() -> None:
    assert Target(Bound.BELOW, 5, source="bench.promotions").text("ms") == (
        "< 5 ms (bench.promotions)"
    )
    assert Target(Bound.AT_MOST, 1000).text("ms") == "≤ 1,000 ms, proposed"
    assert Target(Bound.AT_LEAST, 0.6, On.RATIO, "bench.drain").text("msg/s") == (
        "≥ 0.6× ceiling (bench.drain)"
    )
    assert (
        Target(Bound.AT_MOST, 1.25, On.RATIO, "x", "≈ 1").text("s") == "≤ 1.25× ceiling (≈ 1) (x)"
    )


ROWS = [
    Row("recompute, p99", "ms", 4.2, 0.3, Target(Bound.BELOW, 5, source="bench.promotions")),
    Row("scan, p50", "ms", 9.0, 1.5, Target(Bound.AT_MOST, 2, On.RATIO), why="pricing: 5 ms"),
    Row("daemon RSS", "MB", 81.0, 55.0, Target(Bound.AT_MOST, 80), digits=1, why="+26 MB"),
    Row("drain", "", None, failed="RuntimeError: no PUBACK"),
    Row(
        "ledger",
        "",
        3.0,
        passed=False,
        figure_text="3 rows wrong",
        target_text="every (lane, seq) once",
        why="3 missing",
    ),
    Row("informative", "s", 1.0),
]


def test_the_table_has_a_row_per_measure_with_figure_ceiling_ratio_target_and_verdict() -> None:
    lines = table(ROWS)
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == [
        "measure",
        "figure",
        "ceiling",
        "figure / ceiling",
        "target",
        "verdict",
    ]
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in lines[2:]]
    assert cells == [
        ["recompute, p99 (ms)", "4.20", "0.30", "14.00", "< 5 ms (bench.promotions)", "met"],
        ["scan, p50 (ms)", "9.00", "1.50", "6.00", "≤ 2× ceiling, proposed", "missed"],
        ["daemon RSS (MB)", "81.0", "55.0", "1.47", "≤ 80 MB, proposed", "missed"],
        ["drain", "failed: RuntimeError: no PUBACK", "—", "—", "—", "not measured"],
        ["ledger", "3 rows wrong", "—", "—", "every (lane, seq) once", "missed"],
        ["informative (s)", "1.00", "—", "—", "—", "—"],
    ]
    assert len({len(line) for line in lines}) == 1  # every line as wide: columns aligned


def test_numbers_are_right_aligned_in_the_markdown_rule() -> None:
    rule = table(ROWS)[1].split("|")[1:-1]
    assert [cell.endswith(":") for cell in rule] == [False, True, True, True, False, False]


def test_each_missed_target_gets_a_line_saying_why() -> None:
    assert misses(ROWS) == [
        "- missed: scan, p50: pricing: 5 ms",
        "- missed: daemon RSS: +26 MB",
        "- missed: ledger: 3 missing",
    ]
    assert misses([Row("x", "ms", 2.0, None, Target(Bound.BELOW, 1))]) == [
        "- missed: x: no explanation recorded"
    ]


def test_the_report_is_the_machine_then_the_table_then_the_misses_then_notes() -> None:
    text = report(["Machine:", "- CPU: X"], ROWS, ["Took 1 s."])
    lines = text.splitlines()
    assert lines[:3] == ["Machine:", "- CPU: X", ""]
    assert lines[3].startswith("| measure")
    assert lines[3 + 2 + len(ROWS)] == ""
    assert lines[-5:] == [
        "- missed: scan, p50: pricing: 5 ms",
        "- missed: daemon RSS: +26 MB",
        "- missed: ledger: 3 missing",
        "",
        "Took 1 s.",
    ]
    assert "missed:" not in report([], ROWS[:1])


def test_the_machine_is_named_from_proc() -> None:
    x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n"
    pi = (
        "processor\t: 0\nmodel name\t: ARMv7 Processor rev 3 (v7l)\n\n"
        "Hardware\t: BCM2835\nModel\t: Raspberry Pi 4 Model B Rev 1.4\n"
    )
    assert cpu_model(x86) == "AMD EPYC 7B13"
    assert cpu_model(pi) == "Raspberry Pi 4 Model B Rev 1.4"
    assert ram_gb("MemTotal:       3884096 kB\nMemFree: 1 kB\n") == pytest.approx(3.70, abs=0.01)


def test_a_tiny_section_runs_end_to_end() -> None:
    from bench.all import QUICK, Sizes, run

    rows, took = run(Sizes(**{**QUICK.__dict__, "pricing_runs": 20}), {"promotion recompute"})
    assert [row.name for row in rows] == ["promotion recompute, 60 lines, 200 promotions, p99"]
    assert all(row.figure and row.ceiling and row.verdict() in ("met", "missed") for row in rows)
    assert took[0].startswith("promotion recompute ")
