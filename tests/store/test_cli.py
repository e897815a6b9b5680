"""The firmware-lane command line: catalog import, cashier add, config check."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from firmware_app.cli import main
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
