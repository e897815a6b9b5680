"""sd_notify without a library: what systemd receives on its socket, how often the
watchdog is pinged, and that nothing happens (and nothing raises) without systemd."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator

import pytest

from firmware_app.app.notify import Notifier
from tests.pi.notify_socket import NotifySocket
from tests.waiting import wait_until


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def systemd() -> Iterator[NotifySocket]:
    with NotifySocket() as sock:
        yield sock


def test_ready_status_and_stopping_arrive_as_systemd_reads_them(systemd: NotifySocket) -> None:
    notifier = Notifier.from_env(systemd.env)
    assert notifier.enabled
    assert notifier.ready("lane S001/01 running")
    assert notifier.status("printer: paper out\nscale: ok")
    assert notifier.stopping()
    wait_until(lambda: len(systemd.messages) == 3, "three messages")
    assert systemd.messages == [
        {"READY": "1", "STATUS": "lane S001/01 running"},
        {"STATUS": "printer: paper out scale: ok"},  # one line, as systemctl shows it
        {"STOPPING": "1"},
    ]
    notifier.close()


def test_watchdog_is_pinged_at_most_every_half_interval(systemd: NotifySocket) -> None:
    clock = Clock()
    notifier = Notifier(systemd.address, watchdog_usec=2_000_000, clock=clock)
    assert notifier.watchdog_interval_s == 1.0
    sent = []
    for _ in range(25):  # the loop calls it every 0.2 s for 5 s
        sent.append(notifier.watchdog())
        clock.now += 0.2
    # pings at 0, 1.0, 2.0, 3.0, 4.0 s: the first at once, then every 1.0 s
    assert sent == ([True] + [False] * 4) * 5
    wait_until(lambda: len(systemd.messages) == 5, "five pings")
    assert systemd.messages == [{"WATCHDOG": "1"}] * 5


def test_watchdog_without_watchdog_usec_sends_nothing(systemd: NotifySocket) -> None:
    notifier = Notifier.from_env(systemd.env)
    assert notifier.watchdog_usec == 0
    assert not notifier.watchdog()
    notifier.ready()
    wait_until(lambda: systemd.messages, "READY")
    assert systemd.keys() == ["READY"]


def test_watchdog_pid_of_another_process_disables_the_watchdog(systemd: NotifySocket) -> None:
    env = {**systemd.env, "WATCHDOG_USEC": "30000000"}
    mine = Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_usec == 30_000_000
    assert mine.watchdog_interval_s == 15.0
    child = Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid() + 1)})
    assert child.watchdog_usec == 0
    assert not child.watchdog()
    assert Notifier.from_env({**env, "WATCHDOG_USEC": "soon"}).watchdog_usec == 0


def test_no_socket_is_a_silent_no_op() -> None:
    notifier = Notifier.from_env({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert notifier.watchdog_usec == 0
    assert not notifier.ready()
    assert not notifier.status("x")
    assert not notifier.watchdog()
    assert not notifier.stopping()
    notifier.close()
    assert not Notifier.from_env({"NOTIFY_SOCKET": ""}).enabled


def test_abstract_socket_address() -> None:
    with NotifySocket(abstract=True) as systemd:
        assert systemd.address.startswith("@")
        notifier = Notifier.from_env({**systemd.env, "WATCHDOG_USEC": "1000000"})
        assert notifier.ready()
        assert notifier.watchdog()
        wait_until(lambda: len(systemd.messages) == 2, "READY and WATCHDOG")
        assert systemd.keys() == ["READY", "WATCHDOG"]


def test_a_socket_that_went_away_is_logged_once_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    systemd = NotifySocket()
    clock = Clock()
    notifier = Notifier(systemd.address, watchdog_usec=1_000_000, clock=clock)
    systemd.close()  # the socket file is gone
    with caplog.at_level(logging.WARNING, logger="firmware_app.app.notify"):
        assert not notifier.ready()
        for _ in range(3):
            assert not notifier.watchdog()
            clock.now += 1
        assert not notifier.stopping()
    warnings = [r for r in caplog.records if r.name == "firmware_app.app.notify"]
    assert len(warnings) == 1
    assert systemd.address in warnings[0].getMessage()


def test_an_address_that_is_not_a_unix_socket_disables_notification(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="firmware_app.app.notify"):
        notifier = Notifier.from_env({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert not notifier.ready()
    assert "not a unix socket" in caplog.text


def test_a_socket_that_is_not_a_datagram_socket_is_an_error_not_a_crash() -> None:
    with NotifySocket() as systemd:
        path = systemd.address + ".stream"
        stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stream.bind(path)
        try:
            assert not Notifier(path).ready()
        finally:
            stream.close()
            os.unlink(path)
