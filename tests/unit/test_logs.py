"""The lane's log lines: one per record, journald priorities under systemd, levels from
the config, extra fields as key=value, and no secret ever written."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_app import config as config_mod
from firmware_app.app.logs import priority, reset_logging, setup_logging, under_journald

SECRET = "s3cr3t-Pa55"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    yield out
    reset_logging()


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_journald_lines_carry_the_syslog_priority_and_no_time(stream: io.StringIO) -> None:
    setup_logging("debug", stream, journald=True)
    log = logging.getLogger("firmware_app.sync")
    log.debug("tick")
    log.info("sale committed", extra={"seq": 41, "sale_id": "0193a9e2"})
    log.warning("backlog %d min", 61)
    log.error("broker gone", extra={"reason": "connection refused"})
    assert lines(stream) == [
        "<7>DEBUG firmware_app.sync: tick",
        "<6>INFO firmware_app.sync: sale committed seq=41 sale_id=0193a9e2",
        "<4>WARNING firmware_app.sync: backlog 61 min",
        '<3>ERROR firmware_app.sync: broker gone reason="connection refused"',
    ]


def test_a_terminal_gets_the_time_first(stream: io.StringIO) -> None:
    setup_logging("info", stream, journald=False)
    logging.getLogger("lane").info("ready")
    (line,) = lines(stream)
    stamp, _, rest = line.partition(" ")
    assert len(stamp) == 10 and rest.split(" ", 1)[1] == "INFO lane: ready"


def test_every_line_of_a_traceback_keeps_the_priority(stream: io.StringIO) -> None:
    setup_logging("info", stream, journald=True)
    try:
        raise ValueError("bad frame")
    except ValueError:
        logging.getLogger("scale").exception("reading failed")
    out = lines(stream)
    assert out[0] == "<3>ERROR scale: reading failed"
    assert out[1] == "<3>  Traceback (most recent call last):"
    assert out[-1] == "<3>  ValueError: bad frame"
    assert all(line.startswith("<3>") for line in out)


def test_the_level_comes_from_the_config(stream: io.StringIO, tmp_path: Path) -> None:
    path = tmp_path / "lane.toml"
    path.write_text('[lane]\nstore = "S1"\nlane = "1"\nlog_level = "warning"\n')
    setup_logging(config_mod.load(path).log_level, stream, journald=True)
    log = logging.getLogger("lane")
    log.info("not shown")
    log.warning("shown")
    assert lines(stream) == ["<4>WARNING lane: shown"]


def test_secrets_never_reach_the_log(stream: io.StringIO) -> None:
    setup_logging("info", stream, secrets=[SECRET, "", "abc"], journald=True)
    log = logging.getLogger("mqtt")
    log.info("connecting as lane:%s@broker", SECRET)
    log.info(f"password is {SECRET}", extra={"url": f"mqtt://lane:{SECRET}@host"})
    try:
        raise ConnectionError(f"refused for {SECRET}")
    except ConnectionError:
        log.exception("connect failed")
    log.info("abc is too short to count as a secret")
    text = stream.getvalue()
    assert SECRET not in text
    assert "<6>INFO mqtt: connecting as lane:***@broker" in text
    assert "password is *** url=mqtt://lane:***@host" in text
    assert "ConnectionError: refused for ***" in text
    assert "abc is too short" in text


def test_a_second_setup_replaces_the_first(stream: io.StringIO) -> None:
    first = io.StringIO()
    setup_logging("info", first, journald=True)
    setup_logging("info", stream, journald=True)
    logging.getLogger("lane").info("once")
    assert first.getvalue() == "" and lines(stream) == ["<6>INFO lane: once"]
    assert sum(type(h).__name__ == "_LaneHandler" for h in logging.getLogger().handlers) == 1


def test_journal_stream_must_name_our_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (tmp_path / "out").open("w") as ours, (tmp_path / "other").open("w") as other:
        st = Path(ours.name).stat()
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert under_journald(ours)
        assert not under_journald(other)  # stdout redirected to a file: not the journal
        monkeypatch.setenv("JOURNAL_STREAM", "garbage")
        assert not under_journald(ours)
    monkeypatch.delenv("JOURNAL_STREAM")
    assert not under_journald(io.StringIO())


@pytest.mark.parametrize(
    ("level", "expected"),
    [(logging.DEBUG, 7), (logging.INFO, 6), (25, 6), (logging.WARNING, 4), (logging.CRITICAL, 2)],
)
def test_priorities(level: int, expected: int) -> None:
    assert priority(level) == expected
