"""A private mosquitto broker for the simulated lane and the sync tests.

``MosquittoBroker`` writes its own config (one listener on 127.0.0.1, anonymous
access) or runs a complete one it is given (a store's configuration, rendered
for a test), runs ``mosquitto`` as a child process and waits until the port
accepts connections. It can be stopped (SIGTERM: a clean shutdown that saves
persistent sessions), killed (SIGKILL: a crash) and started again on the same
port, which is how broker restarts are tested. ``ChildProcess`` (and
``end_process``) is how it, the soak's store server and the sync tests' child
processes are stopped and reaped.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
FALLBACK_PATH = Path("/usr/sbin/mosquitto")  # Debian puts it outside a user's PATH


class BrokerError(RuntimeError):
    """The private broker could not be started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def mosquitto_path() -> Path:
    """Where the mosquitto binary is; ``BrokerError`` naming the package when missing."""
    found = shutil.which("mosquitto")
    if found:
        return Path(found)
    if FALLBACK_PATH.exists():
        return FALLBACK_PATH
    raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class ChildProcess:
    """A child process (``process``, None while none runs) that ``stop`` ends cleanly
    (SIGTERM) and ``kill`` ends as a crash would (SIGKILL), reaped either way: SIGKILL
    after ``stop_timeout_s`` without an end. Idempotent."""

    process: subprocess.Popen[bytes] | None = None
    stop_timeout_s = STOP_TIMEOUT_S

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM: a clean stop."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, like a power cut."""
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        end_process(process, sig, self.stop_timeout_s)


def end_process(
    process: subprocess.Popen[bytes] | None, sig: signal.Signals, timeout_s: float
) -> None:
    """Send ``sig`` to ``process`` (if it still runs) and reap it; SIGKILL after
    ``timeout_s`` seconds without an end. None: nothing to do."""
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class MosquittoBroker(ChildProcess):
    """A mosquitto child process on 127.0.0.1:``port``.

    ``data_dir`` holds the config, the log and, when ``persistence`` is on (the
    default when a ``data_dir`` is given), the saved sessions, so that a
    ``stop()`` + ``start()`` keeps sessions and queued messages like a real
    broker restart does. Without ``data_dir`` a temporary directory is used
    and removed by ``close()``. ``extra_conf`` is appended to the config.

    ``conf`` replaces the generated config with a complete one: its listeners,
    security and persistence are used as written (``persistence`` is then
    ignored), ``port`` must be one of its listeners on 127.0.0.1, and it must
    not set ``log_dest file``: the broker adds its own log file (and, when run
    as root, the user to run as), then ``extra_conf``.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        extra_conf: str = "",
        persistence: bool | None = None,
        conf: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="mosquitto-")
        self.data_dir = Path(data_dir) if data_dir else Path(self._tmp.name)  # type: ignore[union-attr]
        self.persistence = (data_dir is not None) if persistence is None else persistence
        self.extra_conf = extra_conf
        self.conf = conf
        self.process = None
        self._closed = False

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "mosquitto.log"

    def _config(self) -> Path:
        if self.conf is not None:
            lines = [self.conf, f"log_dest file {self.log_file}", "log_type all"]
        else:
            lines = [
                f"listener {self.port} 127.0.0.1",
                "allow_anonymous true",
                f"log_dest file {self.log_file}",
                "log_type all",
                f"persistence {'true' if self.persistence else 'false'}",
                f"persistence_location {self.data_dir}/",
                "set_tcp_nodelay true",  # as docs/mosquitto/mosquitto.conf
            ]
        if os.geteuid() == 0:
            # As root mosquitto would switch to the "mosquitto" user, which
            # cannot write to our data directory.
            lines.append(f"user {getpass.getuser()}")
        path = self.data_dir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n" + self.extra_conf + "\n", encoding="utf-8")
        return path

    def start(self) -> MosquittoBroker:
        """Start (or start again) and wait until the port accepts connections."""
        if self._closed:
            raise BrokerError("broker is closed")
        if self.running:
            return self
        if _accepts(self.port):
            # Someone else listens there: waiting for "our" port would be fooled.
            raise BrokerError(f"mosquitto did not start on port {self.port}: port in use")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self._config()
        self.process = subprocess.Popen(
            [str(mosquitto_path()), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if _accepts(self.port):
                return
            if not self.running:
                break
            time.sleep(0.02)
        self.kill()
        raise BrokerError(f"mosquitto did not start on port {self.port}: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """A clean shutdown (SIGTERM); persistent sessions are saved. Idempotent."""
        super().stop()

    def kill(self) -> None:
        """A crash (SIGKILL): nothing is saved."""
        super().kill()

    def close(self) -> None:
        """Stop and remove the temporary directory, if one was made. Idempotent."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> MosquittoBroker:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
