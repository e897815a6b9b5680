"""The doctor's screen check: does the running lane serve the cashier's screen?

The lane's web server answers ``GET /healthz`` at ``[ui] listen`` (with ``?token=`` when
``[ui] token`` is set) with ``{"ok": true, "screens": N, "customers": M, "run": "…",
"v": K}``: N cashier's screens and M customer displays have their socket open. Unlike
the device checks this needs the lane running; with the lane stopped (as for the
device checks) the line says so and does not fail.

The same address is what the kiosk opens (``firmware_app.doctor.kiosk``): a program on
this Pi reaches a wildcard ``listen`` (``0.0.0.0``, ``::``) at loopback.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import quote

from firmware_app.config import UiConfig
from firmware_app.doctor.result import CheckResult, errno_words, one_line
from firmware_app.doctor.units import UnitStatus
from firmware_app.errors import LaneError

HEALTH_TIMEOUT_S = 3.0
HEALTH_MAX_BYTES = 64 * 1024  # the lane's answer is under 200 bytes
LANE_STATUS = "systemctl status firmware-lane"


class Problem(Enum):
    """Why ``/healthz`` gave no usable answer."""

    NOTHING = "nothing answers"  # refused, unreachable: no server on that address
    SILENT = "no answer"  # connected, but no HTTP answer in time
    TOKEN = "refused the token"  # HTTP 403
    NOT_THE_LANE = "not the lane's screen"  # another program, or not HTTP at all
    NOT_OK = "not ok"  # the lane's own answer, with "ok": false


class ScreenProblem(LaneError):
    """``/healthz`` gave no usable answer; ``problem`` says which kind, the message why."""

    def __init__(self, problem: Problem, reason: str) -> None:
        super().__init__(reason)
        self.problem = problem
        self.reason = reason


@dataclass(frozen=True)
class Health:
    """The lane's answer: open sockets of cashier's screens and of customer displays,
    the daemon's run id and its snapshot counter (docs/screen.md)."""

    screens: int
    customers: int
    run: str
    v: int


# --- where the screen is -------------------------------------------------------------------


def local_host(ui: UiConfig) -> str:
    """The address a program on this Pi connects to: ``[ui] listen``'s host, loopback for
    a wildcard (``0.0.0.0`` → ``127.0.0.1``, ``::`` → ``::1``)."""
    address = ipaddress.ip_address(ui.host)
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return str(address)


def where(ui: UiConfig) -> str:
    """``127.0.0.1:8080`` or ``[::1]:8080``: host and port as a line shows them."""
    host = local_host(ui)
    return f"[{host}]:{ui.port}" if ":" in host else f"{host}:{ui.port}"


def page_url(ui: UiConfig, path: str = "/", *, token: bool = True) -> str:
    """``http://127.0.0.1:8080/customer?token=…``: ``path`` on this Pi, with the token
    when ``token`` and one is configured (never put that form on a line or in a log)."""
    url = f"http://{where(ui)}{path}"
    if token and ui.token:
        url += f"?token={quote(ui.token, safe='')}"
    return url


# --- asking the lane ------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The lane never redirects /healthz: a redirect is another program's answer."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxy: a technician's http_proxy must not carry a request for this Pi elsewhere.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def fetch_health(ui: UiConfig, *, timeout_s: float = HEALTH_TIMEOUT_S) -> Health:
    """``GET /healthz`` from the lane at ``ui.listen``; raises ``ScreenProblem``."""
    request = urllib.request.Request(
        page_url(ui, "/healthz"), headers={"Accept": "application/json"}
    )
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            body = response.read(HEALTH_MAX_BYTES + 1)
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 403:
            raise ScreenProblem(Problem.TOKEN, "HTTP 403") from e
        raise ScreenProblem(Problem.NOT_THE_LANE, f"HTTP {e.code} for /healthz") from e
    except urllib.error.URLError as e:
        raise _connection_problem(e.reason, timeout_s) from e
    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as e:
        raise _connection_problem(e, timeout_s) from e
    if len(body) > HEALTH_MAX_BYTES:
        raise ScreenProblem(Problem.NOT_THE_LANE, f"/healthz is over {HEALTH_MAX_BYTES} bytes")
    return parse_health(body)


def _connection_problem(reason: object, timeout_s: float) -> ScreenProblem:
    if isinstance(reason, TimeoutError):
        return ScreenProblem(Problem.SILENT, f"no answer within {timeout_s:g} s")
    if isinstance(reason, http.client.HTTPException | ConnectionResetError):
        # Something accepted the connection and then spoke no HTTP, or hung up.
        kind = type(reason).__name__
        return ScreenProblem(Problem.NOT_THE_LANE, f"no HTTP answer ({kind})")
    if isinstance(reason, OSError) and reason.errno is not None:
        return ScreenProblem(Problem.NOTHING, errno_words(reason.errno, reason.strerror))
    return ScreenProblem(Problem.NOTHING, one_line(str(reason)))


def parse_health(body: bytes) -> Health:
    """The lane's ``/healthz`` answer; raises ``ScreenProblem`` (NOT_THE_LANE for an
    answer of another shape, NOT_OK for the lane's own ``"ok": false``)."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ScreenProblem(Problem.NOT_THE_LANE, "/healthz is not JSON") from e
    if not isinstance(doc, dict):
        raise ScreenProblem(Problem.NOT_THE_LANE, "/healthz is not a JSON object")
    counts = [doc.get(key) for key in ("screens", "customers", "v")]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
        raise ScreenProblem(Problem.NOT_THE_LANE, "/healthz has no screens, customers and v counts")
    if not isinstance(doc.get("run"), str) or not isinstance(doc.get("ok"), bool):
        raise ScreenProblem(Problem.NOT_THE_LANE, "/healthz has no run and ok")
    if doc["ok"] is not True:
        raise ScreenProblem(Problem.NOT_OK, '/healthz says "ok": false')
    return Health(screens=doc["screens"], customers=doc["customers"], run=doc["run"], v=doc["v"])


# --- the check ------------------------------------------------------------------------------


def check_screen(
    ui: UiConfig,
    *,
    config_path: str,
    lane_status: Callable[[], UnitStatus | None],
    timeout_s: float = HEALTH_TIMEOUT_S,
    problem: str = "",
) -> CheckResult:
    """Passed with the numbers of open screens when the lane answers; not checked when
    the UI is disabled or the lane is stopped; failed otherwise, with what to do. A bad
    ``[ui]`` (``problem``, file, key and reason) fails: the lane runs without its screen."""
    if problem:
        return CheckResult("screen", False, f"{problem}: the lane sells without its screen")
    if not ui.enabled:
        return CheckResult("screen", None, "disabled ([ui] enabled = false)")
    try:
        health = fetch_health(ui, timeout_s=timeout_s)
    except ScreenProblem as e:
        return _problem_result(e, ui, config_path, lane_status)
    return CheckResult(
        "screen",
        True,
        f"{page_url(ui, '/', token=False)}: {_count(health.screens, 'cashier screen')}, "
        f"{_count(health.customers, 'customer display')} open",
    )


def _problem_result(
    e: ScreenProblem,
    ui: UiConfig,
    config_path: str,
    lane_status: Callable[[], UnitStatus | None],
) -> CheckResult:
    at = where(ui)
    if e.problem is Problem.NOTHING:
        return _nothing_answers(at, e.reason, lane_status())
    if e.problem is Problem.SILENT:
        return CheckResult(
            "screen",
            False,
            f"{at}: {e.reason} (is the lane stuck? journalctl -u firmware-lane)",
        )
    if e.problem is Problem.TOKEN:
        if ui.token:
            why = (
                f"[ui] token in {config_path} is not the running lane's "
                "(restart firmware-lane after changing it)"
            )
        else:
            why = f"the running lane wants a token and [ui] token in {config_path} is empty"
        return CheckResult("screen", False, f"{at} refused the token: {why}")
    if e.problem is Problem.NOT_OK:
        return CheckResult("screen", False, f"{at}: {e.reason}: journalctl -u firmware-lane")
    return CheckResult(
        "screen",
        False,
        f"port {ui.port} answers but is not the lane's screen ({e.reason}): another program "
        f"on {at}? (sudo ss -ltnp 'sport = :{ui.port}')",
    )


def _nothing_answers(at: str, reason: str, lane: UnitStatus | None) -> CheckResult:
    advice = f"nothing answers on {at} (is firmware-lane running? `{LANE_STATUS}`)"
    if lane is not None and lane.installed and lane.active == "inactive":
        return CheckResult(
            "screen",
            None,
            f"not checked: firmware-lane is stopped, and it serves the screen ({at})",
        )
    if lane is None:
        return CheckResult("screen", None, advice)  # no systemd to ask: not on a lane's Pi
    if lane.running:
        advice = (
            f"nothing answers on {at} ({reason}), though firmware-lane is running: "
            "its log says why (journalctl -u firmware-lane | grep -i screen)"
        )
    return CheckResult("screen", False, advice)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"
