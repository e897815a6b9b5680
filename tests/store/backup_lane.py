"""A lane's data directory for backup, restore and journal tests: real SQLite files,
sales committed through the real SalesStore, sales made by the real core."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from firmware_app import config as config_mod
from firmware_app.config import Config
from firmware_app.lane.effects import CommitSale, RecordEvent, SaveSale
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from tests.unit.till import Till

NOW = datetime(2026, 11, 28, 17, 42, 0, tzinfo=timezone(timedelta(hours=8)))
STORE, LANE = "S001", "01"


def lane_config(
    tmp_path: Path,
    *,
    store: str = STORE,
    lane: str = LANE,
    backup_dir: Path | None = None,
    generations: int = 14,
    require_mount: bool = False,
    data_dir: Path | None = None,
) -> Config:
    backup: dict[str, Any] = {"generations": generations, "require_mount": require_mount}
    if backup_dir is not None:
        backup["dir"] = str(backup_dir)
    data = {
        "lane": {"store": store, "lane": lane, "data_dir": str(data_dir or tmp_path / "data")},
        "backup": backup,
    }
    return config_mod.parse(data, source=str(tmp_path / "lane.toml"))


def write_config_file(tmp_path: Path, config: Config) -> Path:
    """The same settings as a TOML file, for the command line."""
    path = tmp_path / "lane.toml"
    lines = [
        "[lane]",
        f'store = "{config.store}"',
        f'lane = "{config.lane}"',
        f'data_dir = "{config.data_dir}"',
        "[backup]",
        f'dir = "{config.backup.dir}"',
        f"generations = {config.backup.generations}",
        f"require_mount = {'true' if config.backup.require_mount else 'false'}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Cashdesk:
    """A signed-on cashier ringing up one-can sales into a lane database."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.till = Till().do("signon")
        self.till.setup = replace(self.till.setup, store=config.store, lane=config.lane)
        self.till.state = replace(self.till.state, next_receipt_no=self._next_receipt())
        self.till.ids = 1000 * self.till.state.next_receipt_no  # fresh sale ids after a restore
        self.done = 0

    def _next_receipt(self) -> int:
        db = open_database(self.config.database)
        try:
            return self._store(db).next_receipt_no()
        finally:
            db.close()

    def _store(self, db: Any) -> SalesStore:
        store, lane = self.config.store, self.config.lane
        return SalesStore(db, messages=LaneUplink(Topics("pos", store, lane)))

    def sell(self, count: int, *, open_sale: bool = False, hours_apart: int = 0) -> None:
        """``count`` paid sales, each in its own transaction (``hours_apart`` on the
        till's clock); then an open sale if asked."""
        db = open_database(self.config.database)
        try:
            store = self._store(db)
            store.load_open_sale()  # knows which lines of an open sale are on disk
            for _ in range(count):
                self._apply(store, "scan 6954767410388", "key 1 0 CASH")
                self.till.do(f"wait {hours_apart * 3600}")
            if open_sale:
                self._apply(store, "scan 6954767410388")
        finally:
            db.close()

    def _apply(self, store: SalesStore, *steps: str) -> None:
        before = len(self.till.all_effects)
        self.till.do(*steps)
        durable = [
            e
            for e in self.till.all_effects[before:]
            if isinstance(e, CommitSale | SaveSale | RecordEvent)
        ]
        store.apply(durable)
        self.done += sum(isinstance(e, CommitSale) for e in durable)


class Writer(threading.Thread):
    """Sells continuously on its own connection until stopped: the lane at work."""

    def __init__(self, config: Config) -> None:
        super().__init__(daemon=True)
        self.desk = Cashdesk(config)
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        db = open_database(self.desk.config.database)
        try:
            store = self.desk._store(db)
            while not self.stop.is_set():
                self.desk._apply(store, "scan 6954767410388", "key 1 0 CASH")
        except BaseException as e:
            self.error = e
        finally:
            db.close()

    @property
    def sold(self) -> int:
        return self.desk.done


def make_catalog(config: Config) -> None:
    db = open_catalog(config.catalog_database)
    db.close()


def query(path: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, args).fetchall()


def execute(path: Path, sql: str, *args: object) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(sql, args)


def meta(path: Path, key: str) -> str | None:
    rows = query(path, "SELECT value FROM meta WHERE key = ?", key)
    return rows[0][0] if rows else None
