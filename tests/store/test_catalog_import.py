"""``firmware-lane catalog import``: a technician's catalog file never takes the lane back
to an older catalog unless asked, and never gives one PLU to two items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmware_app.app.cli import main
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.db import open_catalog
from hw_sim.lane_sim import SAMPLE_CATALOG

SAMPLE = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "lane.toml"
    path.write_text(f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{tmp_path / "data"}"\n')
    return path


def catalog_file(tmp_path: Path, version: int, **changes: object) -> Path:
    path = tmp_path / f"catalog-v{version}.json"
    doc = {**SAMPLE, "version": version, "base_version": None, **changes}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def lane_catalog(tmp_path: Path) -> tuple[int, int | None]:
    """The lane's catalog version and the price of 可口可乐 330ml."""
    db = open_catalog(tmp_path / "data" / "catalog.db")
    try:
        catalog = StoreCatalog(db)
        item = catalog.by_code("06954767410388")
        return catalog.version(), item.price if item else None
    finally:
        db.close()


def cheaper(price: int) -> list[dict]:
    return [{**item, "price": price} for item in SAMPLE["items"]]


def test_an_older_catalog_is_refused_unless_asked(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v5, v2 = catalog_file(tmp_path, 5), catalog_file(tmp_path, 2, items=cheaper(100))
    assert main(["catalog", "import", str(v5), "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["catalog", "import", str(v2), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{v2}: snapshot version 2 is older than the lane's catalog version 5" in err
    assert "--allow-older" in err
    assert lane_catalog(tmp_path) == (5, 350)
    assert main(["catalog", "import", str(v2), "--allow-older", "--config", str(config)]) == 0
    assert "catalog version 2: 12 items" in capsys.readouterr().out
    assert lane_catalog(tmp_path) == (2, 100)


def test_the_same_version_again_is_no_step_back(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v5 = catalog_file(tmp_path, 5)
    assert main(["catalog", "import", str(v5), "--config", str(config)]) == 0
    assert main(["catalog", "import", str(v5), "--config", str(config)]) == 0
    assert lane_catalog(tmp_path) == (5, 350)


def test_two_items_with_one_plu_are_refused(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["catalog", "import", str(SAMPLE_CATALOG), "--config", str(config)]) == 0
    items = [dict(item) for item in SAMPLE["items"]]
    items[6]["plu"] = 1  # 200002 takes 200001's PLU: PLU 1 would sell either
    clash = catalog_file(tmp_path, 2, items=items)
    assert main(["catalog", "import", str(clash), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{clash}: items[6] (sku 200002).plu: 1 is also the PLU of sku 200001" in err
    assert lane_catalog(tmp_path) == (1, 350)


def test_a_deeply_nested_file_gets_one_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "nested.json"
    bad.write_bytes(
        b'{"schema": "store.catalog/1", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    )
    assert main(["catalog", "import", str(bad), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err == f"firmware-lane: {bad}: not JSON the lane can read: nested too deeply\n"
