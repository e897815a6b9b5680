"""``firmware-lane doctor`` and ``firmware-lane test-print`` from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_app.app.cli import main
from hw_sim.broker import free_port
from hw_sim.printer import SimulatedPrinter


def write_config(tmp_path: Path, printer_port: str = "", drawer: bool = False) -> Path:
    path = tmp_path / "lane.toml"
    path.write_text(
        f"""
[lane]
store = "S1"
lane = "1"
data_dir = "{tmp_path / "data"}"

[scanner]
path = "{tmp_path / "lane-scanner"}"

[keypad]
path = "{tmp_path / "lane-keypad"}"

[scale]
port = "{tmp_path / "lane-scale"}"

[printer]
port = "{printer_port or tmp_path / "lane-printer"}"

[drawer]
enabled = {"true" if drawer else "false"}

[mqtt]
url = "mqtt://127.0.0.1:{free_port()}"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[SimulatedPrinter]:
    with SimulatedPrinter(tmp_path / "out", render_png=False) as sim:
        yield sim


def test_doctor_prints_one_line_per_check_and_fails_with_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["doctor", "--config", str(config)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line[2:13].strip() for line in lines] == [
        "config", "scanner", "keypad", "scale", "printer", "pole", "gpio", "drawer", "broker",
        "lane db", "catalog db", "outbox", "disk", "clock", "screen", "kiosk",
    ]  # fmt: skip
    assert lines[0] == f"✓ config     {config} (store S1, lane 1)"
    assert f"✗ scanner    {tmp_path / 'lane-scanner'}: No such file or directory" in lines
    unplugged = "no such file or directory: unplugged, or no udev link of that name?"
    assert f"✗ scale      {tmp_path / 'lane-scale'}: {unplugged} (scripts/lane-ids)" in lines
    assert f"✗ printer    {tmp_path / 'lane-printer'}: {unplugged} (scripts/lane-ids)" in lines
    assert "– drawer     drawer disabled in config" in lines
    (broker,) = [line for line in lines if line.startswith("✗ broker     mqtt://127.0.0.1:")]
    port = broker.split("mqtt://127.0.0.1:")[1].split(":")[0]
    assert broker.endswith(f"{port}: connection refused: is mosquitto running on 127.0.0.1:{port}?")
    assert (
        f"✗ lane db    {tmp_path / 'data' / 'lane.db'}: no such file or directory: "
        "has the lane run here yet? (it makes lane.data_dir and its databases)"
    ) in lines
    assert not (tmp_path / "data").exists()  # the doctor creates nothing


def test_doctor_with_a_bad_option_is_bad_usage() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["doctor", "--verbose-please"])
    assert exit_.value.code == 2


def test_doctor_with_a_bad_config_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "lane.toml"
    bad.write_text('[lane]\nstore = "S1"\nlane = "1"\n[scale]\npoll_ms = "fast"\n')
    assert main(["doctor", "--config", str(bad)]) == 1
    assert f"{bad}: scale.poll_ms: expected an integer" in capsys.readouterr().err


def test_test_print_prints_the_test_receipt(
    tmp_path: Path, printer: SimulatedPrinter, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, printer_port=printer.port)
    assert main(["test-print", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"test receipt printed on {printer.port}, paper ok\n"
    text = printer.wait_for_receipt(1, 5.0)
    assert "TEST PRINT" in text
    assert "Lane: S1-1" in text.splitlines()
    assert "Paper: 80 mm, 48 columns" in text.splitlines()


def test_test_print_without_paper_fails_saying_so(
    tmp_path: Path, printer: SimulatedPrinter, capsys: pytest.CaptureFixture[str]
) -> None:
    printer.paper("out")
    config = write_config(tmp_path, printer_port=printer.port)
    assert main(["test-print", "--config", str(config)]) == 1
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"firmware-lane: receipt printer on {printer.port}: paper out")
    assert printer.receipts == []


def test_test_print_without_a_printer_names_the_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert main(["test-print", "--config", str(config)]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"firmware-lane: receipt printer {tmp_path / 'lane-printer'}: "
        "no such file or directory: unplugged, or no udev link of that name? (scripts/lane-ids)"
    )
