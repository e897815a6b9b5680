"""What a power cut can leave of a lane database in WAL mode, and what the lane must
find in it when it starts again.

A crash image is the pair of files a cut leaves on the disk: ``lane.db`` and
``lane.db-wal`` (the ``-shm`` is an index that SQLite rebuilds from the WAL when it
is missing, so an image never has one). With ``synchronous=FULL`` SQLite writes a
transaction's frames to the WAL and fsyncs it before the commit returns, and a
checkpoint copies WAL pages into the database file and fsyncs it before the WAL is
ever written from the start again. So a cut can tear only what was written since the
last fsync:

- the frames of the transaction being committed (any of their 512-byte sectors may
  hold the new bytes, the bytes that were there before, or nothing past the old end
  of the file): SQLite's frame checksums must drop that transaction whole;
- the database pages a checkpoint was writing (any sector old or new), with the WAL
  still whole: SQLite must replay the WAL over them.

``wal_commits`` reads a WAL as SQLite's recovery does (salts and the cumulative
checksum), to know where a transaction's frames lie.
"""

from __future__ import annotations

import random
import sqlite3
import struct
from dataclasses import dataclass

WAL_HEADER = 32
FRAME_HEADER = 24
SECTOR = 512


@dataclass(frozen=True)
class Files:
    """The bytes of ``lane.db`` and ``lane.db-wal`` at one instant."""

    db: bytes
    wal: bytes


@dataclass(frozen=True)
class WalChain:
    """The valid part of a WAL: its salts and where each committed transaction ends."""

    salts: bytes
    commit_ends: tuple[int, ...]

    @property
    def end(self) -> int:
        return self.commit_ends[-1] if self.commit_ends else WAL_HEADER


def _checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def wal_commits(wal: bytes) -> WalChain | None:
    """The WAL's valid chain, as recovery sees it; None when the header is not valid
    (SQLite then ignores the whole file)."""
    if len(wal) < WAL_HEADER:
        return None
    magic, _version, page_size, _ckpt, _s1, _s2, c0, c1 = struct.unpack(">8I", wal[:32])
    if magic not in (0x377F0682, 0x377F0683):
        return None
    big = bool(magic & 1)
    s0, s1 = _checksum(wal[:24], 0, 0, big)
    if (s0, s1) != (c0, c1):
        return None
    salts = wal[16:24]
    ends: list[int] = []
    offset = WAL_HEADER
    frame = FRAME_HEADER + page_size
    while offset + frame <= len(wal):
        header = wal[offset : offset + FRAME_HEADER]
        if header[8:16] != salts:
            break
        s0, s1 = _checksum(header[:8], s0, s1, big)
        s0, s1 = _checksum(wal[offset + FRAME_HEADER : offset + frame], s0, s1, big)
        if struct.unpack(">2I", header[16:24]) != (s0, s1):
            break
        offset += frame
        if struct.unpack(">I", header[4:8])[0] != 0:  # a commit frame
            ends.append(offset)
    return WalChain(salts, tuple(ends))


@dataclass(frozen=True)
class Image:
    """A crash image and the instant whose state it must hold: ``expect`` is the index
    of the last write the lane was told was done that this image must show (and
    nothing after it)."""

    kind: str
    files: Files
    expect: int


def last_transaction(before: Files, after: Files) -> tuple[int, int] | None:
    """Where in ``after.wal`` the one transaction committed between ``before`` and
    ``after`` wrote (start, end); None when it wrote no frame. A WAL begun anew (new
    salts) was written from offset 0: its header is part of that write."""
    new = wal_commits(after.wal)
    if new is None or not new.commit_ends:
        return None
    old = wal_commits(before.wal)
    if old is not None and old.salts == new.salts:
        if old.end == new.end:
            return None
        return old.end, new.end
    return 0, new.end


def torn_wal(before: Files, after: Files, k: int, rng: random.Random) -> Image | None:
    """A cut while transaction ``k`` (``before`` → ``after``) was being written: some of
    its bytes reached the disk, the rest is what was there before (or nothing). The
    database file is as before: a checkpoint runs only after the WAL is synced."""
    span = last_transaction(before, after)
    if span is None:
        return None
    start, end = span
    new, old = after.wal, before.wal
    cut = rng.randrange(start, end)
    how = rng.choice(("truncated", "stale tail", "zero tail", "lost sector"))
    if how == "truncated":
        wal = new[:cut]
    elif how == "stale tail":
        wal = new[:cut] + old[cut:end] + (new[end:] if len(old) >= end else b"")
    elif how == "zero tail":
        wal = new[:cut] + bytes(end - cut) + new[end:]
    else:  # one sector of the transaction never reached the disk; all others did
        sector = cut - cut % SECTOR
        stale = old[sector : sector + SECTOR].ljust(SECTOR, b"\0")
        wal = new[:sector] + stale + new[sector + SECTOR :]
    kept = len(wal) >= end and wal[start:end] == new[start:end]
    return Image(f"torn wal ({how})", Files(before.db, wal), k if kept else k - 1)


def torn_checkpoint(before: Files, after: Files, k: int, rng: random.Random) -> Image | None:
    """A cut while the checkpoint after transaction ``k`` wrote the database file: each
    sector old or new, the file's length anywhere between; the WAL whole."""
    if before.db == after.db:
        return None
    old, new = before.db, after.db
    length = rng.randint(min(len(old), len(new)), max(len(old), len(new)))
    mixed = bytearray()
    for at in range(0, length, SECTOR):
        source = new if rng.random() < 0.5 else old
        piece = source[at : at + SECTOR]
        if len(piece) < min(SECTOR, length - at):  # past that version's end: the other's
            piece = (old if source is new else new)[at : at + SECTOR]
        mixed += piece
    return Image("torn checkpoint", Files(bytes(mixed[:length]), after.wal), k)


# --- what the lane must find ---------------------------------------------------------


def logical_state(conn: sqlite3.Connection) -> dict[str, object]:
    """Everything the lane was told was saved, as rows: finished transactions, the
    journal's head, the outbox, parked and open sales, cash movements, the payment log
    and the meta counters (suspend numbers, next seq, the signed-on cashier)."""

    def rows(sql: str) -> tuple[tuple[object, ...], ...]:
        return tuple(tuple(r) for r in conn.execute(sql))

    return {
        "transactions": rows(
            'SELECT sale_id, receipt_no, kind, total FROM "transaction" ORDER BY sale_id'
        ),
        "lines": rows("SELECT count(*), sum(amount) FROM transactionline"),
        "journal": rows("SELECT count(*), max(no), (SELECT hash FROM journalentry "
                        "ORDER BY no DESC LIMIT 1) FROM journalentry"),
        "outbox": rows("SELECT seq, topic, length(payload) FROM outboxmessage ORDER BY seq"),
        "parked": rows("SELECT no, sale_id FROM parkedsale ORDER BY no"),
        "open": rows(
            "SELECT s.id, count(l.no) FROM opensale s LEFT JOIN openline l "
            "ON l.sale_id = s.id GROUP BY s.id ORDER BY s.id"
        ),
        "cash": rows("SELECT count(*), sum(amount) FROM cashmovement"),
        "payments": rows("SELECT id, status FROM payment ORDER BY id"),
        "meta": rows("SELECT key, value FROM meta ORDER BY key"),
    }  # fmt: skip


def consistency_problems(conn: sqlite3.Connection) -> list[str]:
    """The lane's own rules over its rows: the outbox's seqs gapless from 1 up to its
    mark, each payload carrying its row's seq; no sale both parked and open, nor
    finished and still parked or open."""
    import json

    problems = []
    seqs = [r[0] for r in conn.execute("SELECT seq FROM outboxmessage ORDER BY seq")]
    mark = conn.execute("SELECT value FROM meta WHERE key = 'outbox.next_seq'").fetchone()
    next_seq = int(mark[0]) if mark else 1
    if seqs != list(range(1, next_seq)):
        problems.append(f"outbox seqs {seqs[:3]}…{seqs[-3:]} not gapless up to {next_seq}")
    for seq, payload in conn.execute("SELECT seq, payload FROM outboxmessage"):
        if json.loads(payload).get("seq") != seq:
            problems.append(f"outbox row {seq} carries another seq")
    parked = {r[0] for r in conn.execute("SELECT sale_id FROM parkedsale")}
    open_ = {r[0] for r in conn.execute("SELECT id FROM opensale")}
    done = {r[0] for r in conn.execute('SELECT sale_id FROM "transaction"')}
    if parked & open_:
        problems.append(f"sales both parked and open: {sorted(parked & open_)}")
    if done & (parked | open_):
        problems.append(f"finished sales still parked or open: {sorted(done & (parked | open_))}")
    return problems
