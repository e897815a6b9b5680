"""Catalog import: time and peak memory, beside its bare ceiling.

Each import runs in a process of its own, so that its peak resident memory
(``VmHWM``, read by the process itself when done: a child's ``ru_maxrss`` would count
the parent's memory at the fork) is its own: ``lane`` is ``firmware-lane catalog import``
(``bench.lean_store.catalog_import``), ``bare`` is ``json.loads`` and ``executemany``
into the same kind of tables (``bench.lean_store.bare_catalog_import``). Both
processes import the same modules first, so the difference is the work. The time is
the import's own, measured inside the process, as ``bench.lean_store`` does.

A child: ``python -m bench.import_memory lane|bare DOCUMENT DIR`` prints the seconds
and the peak in MB.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.daemon_memory import rss_mb
from bench.lean_store import bare_catalog_import, catalog_import


@dataclass(frozen=True)
class Import:
    """Median seconds and peak RSS (MB) over the rounds."""

    seconds: float
    peak_mb: float


def child(kind: str, document: Path, directory: Path) -> tuple[float, float]:
    """Run one import in a process of its own: (seconds, peak RSS in MB)."""
    command = [sys.executable, "-m", "bench.import_memory", kind, str(document), str(directory)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} import failed: {done.stderr[-500:]}")
    seconds, peak_mb = done.stdout.split()[-2:]
    return float(seconds), float(peak_mb)


def measure(document: Path, tmp: Path, rounds: int = 3) -> tuple[Import, Import]:
    """The lane's import and the bare one, ``rounds`` each in turn into fresh
    directories: (lane, bare), medians."""
    lane, bare = [], []
    for n in range(rounds):
        bare.append(child("bare", document, tmp / f"bare-{n}"))
        lane.append(child("lane", document, tmp / f"lane-{n}"))

    def median(runs: list[tuple[float, float]]) -> Import:
        return Import(
            statistics.median(s for s, _ in runs), statistics.median(mb for _, mb in runs)
        )

    return median(lane), median(bare)


def main(argv: list[str]) -> None:
    kind, document, directory = argv[0], Path(argv[1]), Path(argv[2])
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "bare":
        seconds = bare_catalog_import(directory / "catalog.db", document)
    else:
        seconds = catalog_import(directory, document, directory / "data")
    print(f"{seconds:.6f} {rss_mb(os.getpid(), 'VmHWM'):.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
