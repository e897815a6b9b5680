"""The firmware-lane command line: catalog import, cashier add, config check."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from firmware_app.app.cli import EXIT_CONFIG, main
from firmware_app.store.cashiers import Cashiers
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.db import open_catalog, open_database
from hw_sim.lane_sim import SAMPLE_CATALOG


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "lane.toml"
    path.write_text(f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{tmp_path / "data"}"\n')
    return path


def catalog_count(tmp_path: Path) -> int:
    db = open_catalog(tmp_path / "data" / "catalog.db")
    try:
        return StoreCatalog(db).count()
    finally:
        db.close()


def test_catalog_import(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "import", str(SAMPLE_CATALOG), "--config", str(config)]) == 0
    assert "catalog version 1: 12 items" in capsys.readouterr().out
    assert catalog_count(tmp_path) == 12


def test_malformed_catalog_changes_nothing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "catalog", "import", str(SAMPLE_CATALOG)]) == 0
    doc = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
    doc["items"][3]["price"] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["catalog", "import", str(bad), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: items[3] (sku 100237).price: expected an integer" in err
    assert catalog_count(tmp_path) == 12


def test_missing_catalog_file(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "import", "/nonexistent.json", "--config", str(config)]) == 1
    assert "/nonexistent.json" in capsys.readouterr().err


def test_cashier_add_reads_the_pin_from_stdin(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("2468\n"))
    assert main(["cashier", "add", "1001", "--role", "supervisor", "--config", str(config)]) == 0
    db = open_database(tmp_path / "data" / "lane.db")
    try:
        cashier = Cashiers(db).verify("1001", "2468")
    finally:
        db.close()
    assert cashier is not None and cashier.role.value == "supervisor"


def test_cashier_add_refuses_a_bad_pin(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("12\n"))
    assert main(["cashier", "add", "1001", "--config", str(config)]) == 1
    assert "PIN: expected 4 to 8 digits" in capsys.readouterr().err


def test_pin_is_not_a_command_line_argument(config: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["cashier", "add", "1001", "--pin", "1234", "--config", str(config)])
    assert exit_.value.code == 2


def test_config_check(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--config", str(config)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[lane]\nstore = "S1"\nlane = "1"\n[printer]\npaper_mm = 70\n')
    assert main(["config", "check", "--config", str(bad)]) == 1
    assert f"{bad}: printer.paper_mm: expected 58 or 80, got 70" in capsys.readouterr().err


# --- run and config check: one line for a config error, never a traceback ------------------

ROOT = Path(__file__).resolve().parents[2]


def lane_config(tmp_path: Path, extra: str, mode: int = 0o600) -> Path:
    path = tmp_path / "lane.toml"
    path.write_text(
        f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{tmp_path / "data"}"\n{extra}',
        encoding="utf-8",
    )
    path.chmod(mode)
    return path


BAD_FOR_RUN = [
    ('timezone = "Mars/Base"\n', "lane.timezone: unknown time zone 'Mars/Base'"),
    ('[keypad.map]\nKEY_FLUBBER = "PLU"\n', "keypad.map.KEY_FLUBBER: no such evdev key"),
    ('[display]\ndevice = "{tmp}/nope/tty"\n', "display.device: {tmp}/nope/tty: directory"),
    ('[display]\ndevice = "/dev/tty-lane-typo"\n', "display.device: /dev/tty-lane-typo: no such"),
    ('[mqtt]\nurl = "mqtt://[::1"\n', "mqtt.url: expected mqtt://HOST[:PORT]"),
    ('[sale]\nmax_cash_tender = "1e999999999"\n', "sale.max_cash_tender: '1e999999999' is too"),
]


@pytest.mark.parametrize(
    ("extra", "said"), BAD_FOR_RUN, ids=[s.split(":")[0] for _, s in BAD_FOR_RUN]
)
def test_config_check_refuses_what_run_could_not_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, said: str
) -> None:
    path = lane_config(tmp_path, extra.format(tmp=tmp_path))
    assert main(["config", "check", "--config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"firmware-lane: {path}: {said.format(tmp=tmp_path)}")
    assert len(err.splitlines()) == 1


def test_config_check_reports_a_screen_the_lane_would_run_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = lane_config(tmp_path, '[ui]\nlisten = "0.0.0.0:8080"\n')
    assert main(["config", "check", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"firmware-lane: {path}: ui.listen: 0.0.0.0:8080 is reachable from other machines: "
        "set [ui] token too (16 or more letters and digits), or listen on 127.0.0.1 "
        "(the lane runs without its screen)\n"
    )


@pytest.mark.parametrize(
    ("extra", "said"), BAD_FOR_RUN, ids=[s.split(":")[0] for _, s in BAD_FOR_RUN]
)
def test_run_stops_on_a_config_error_with_one_line_and_ex_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, said: str
) -> None:
    path = lane_config(tmp_path, extra.format(tmp=tmp_path))
    assert main(["run", "--config", str(path)]) == EXIT_CONFIG == 78
    err = capsys.readouterr().err
    assert err.startswith(f"firmware-lane: {path}: {said.format(tmp=tmp_path)}")
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "data").exists()  # nothing started
    assert not Path("/dev/tty-lane-typo").exists()


def test_run_refuses_a_world_writable_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = lane_config(tmp_path, "", mode=0o666)
    assert main(["run", "--config", str(path)]) == EXIT_CONFIG
    assert capsys.readouterr().err == (
        f"firmware-lane: {path}: writable by everyone: anyone on the lane could change it; "
        f"run: chmod o-w {path}\n"
    )


def test_config_check_names_missing_tls_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca.pem"
    path = lane_config(tmp_path, f'[mqtt]\nurl = "mqtts://broker"\nca_file = "{ca}"\n')
    assert main(["config", "check", "--config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "ok" not in out
    assert err == f"firmware-lane: {path}: mqtt.ca_file: {ca}: no such file or directory\n"


def test_run_with_a_broken_database_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "lane.db").write_bytes(b"this is not a database, " * 100)
    path = lane_config(tmp_path, "[drawer]\nenabled = false\n")
    assert main(["run", "--config", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"firmware-lane: {data / 'lane.db'}: cannot open: file is not a database"]


def test_the_lane_unit_does_not_restart_on_a_config_error() -> None:
    unit = (ROOT / "systemd" / "firmware-lane.service").read_text(encoding="utf-8")
    assert f"RestartPreventExitStatus={EXIT_CONFIG}" in unit.splitlines()
