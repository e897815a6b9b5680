"""The config file under fuzzing: any text, the example mutated as text and as values.

Whatever the file holds, ``config.load`` gives a ``Config`` or a ``ConfigError`` whose
message names the file, then the field (or what is wrong with the text), then the
reason; never another exception. And a config that ``config check`` passes runs: its
logging set up, the lane built and started as ``run`` builds and starts it (``LaneApp``,
the real drivers on missing devices), a key taken, both screens shown, and the broker
password nowhere in the log.
"""

from __future__ import annotations

import io
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory
from hypothesis import event, example, given
from hypothesis import strategies as st

import firmware_app
from firmware_app import config
from firmware_app.app.bootstrap import Hardware, LaneApp, screen_setup
from firmware_app.app.config_check import check_files
from firmware_app.app.logs import MIN_SECRET_LENGTH, reset_logging, setup_logging
from firmware_app.errors import ConfigError
from firmware_app.lane.events import KeyPressed
from firmware_app.lane.state import Mode
from firmware_app.lane.view import customer_view, screen_view
from tests.fuzz.test_fuzz_data_mutations import ODD_TEXT, fuzz_settings, mutated, to_python

EXAMPLE = Path(firmware_app.__file__).parent / "lane.example.toml"
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
EXAMPLE_DOC = tomllib.loads(EXAMPLE_TEXT)
# The example's empty tables and lists given something to mutate.
EXAMPLE_DOC["restrictions"] = {"alcohol": ["08:00", "22:00"], "tobacco": ["22:00", "06:00"]}
EXAMPLE_DOC["keypad"]["map"] = {"KEY_F10": "PLU", "KEY_KP7": ""}
EXAMPLE_DOC["members"].update(lengths=[11, 13], check_digit="mod10-gs1", points_per="1.00")
EXAMPLE_DOC["approvals"].update(without_supervisor=["void_line"], badge_prefix="SV")
EXAMPLE_DOC["mqtt"].update(username="lane", password="secret")
# "FILE: WHERE: REASON": WHERE is a field (lane.store, sale.price_reasons[2]) or what is
# wrong with the text (not valid TOML, not UTF-8 text).
FIELD = r"[A-Za-z0-9_.\[\]-]+|not valid TOML|not UTF-8 text|cannot read"


def named(error: ConfigError | str, source: str) -> bool:
    """Whether a config error names the file, a field and a reason."""
    text = str(error)
    if not text.startswith(f"{source}: "):
        return False
    rest = text[len(source) + 2 :]
    # A key the file chooses is named as written, whatever it is: an unknown key, an
    # evdev key name in [keypad.map], a department in [restrictions].
    if rest.endswith(": unknown key (check the spelling)"):
        return True
    if re.match(r"(keypad\.map|restrictions)\..*: \S", rest, re.DOTALL):
        return True
    return re.match(rf"(?:{FIELD}): \S", rest, re.DOTALL) is not None


def load_text(tmp_path: Path, text: str | bytes) -> config.Config | ConfigError:
    """``config.load`` of a private file holding ``text``: the config or its error."""
    path = tmp_path / "lane.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    os.chmod(path, 0o600)
    try:
        return config.load(path)
    except ConfigError as e:
        assert named(e, str(path)), str(e)
        return e


# --- any text ------------------------------------------------------------------------------


@fuzz_settings(60)
@given(st.text(max_size=200) | st.binary(max_size=200))
@example("a = " + "[" * 5000 + "]" * 5000)  # nested past the TOML parser's recursion
@example("a = " + "{b = " * 3000 + "1" + "}" * 3000)
@example("[lane]\nkeep_days = " + "9" * 5000)  # past Python's integer digits
@example(b"\xff\xfe[lane]")
def test_any_text_is_a_config_or_an_error_naming_the_file(
    tmp_path_factory: Any, text: str | bytes
) -> None:
    load_text(tmp_path_factory.mktemp("cfg"), text)


# --- the example, mutated as text ----------------------------------------------------------

TOML_VALUES = [
    '""',
    '"x"',
    "0",
    "-1",
    "9" * 5000,
    "9" * 19,
    "0x7f",
    "1_000",
    "1e999",
    "inf",
    "nan",
    "-0.0",
    "true",
    "1979-05-27T07:32:00Z",
    "07:32:00",
    "[]",
    '["x", 1]',
    "{a = 1}",
    "[" * 2000 + "]" * 2000,
    '"""multi\nline"""',
    "'''literal'''",
    '"\\u0000"',
    '"\\ud800"',
    '"\\U0001F6D2"',
    '"\\u202e"',
]


def _lines(text: str) -> list[str]:
    return text.split("\n")


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    """The example config, changed in one to four places, line by line: a line dropped,
    doubled (a key or table given twice), moved, given another value, text inserted."""
    lines = _lines(EXAMPLE_TEXT)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["drop", "double", "move", "value", "insert", "cut"]))
        if how == "drop":
            del lines[i]
        elif how == "double":
            lines.insert(i, lines[i])
        elif how == "move":
            lines.insert(draw(st.integers(0, len(lines))), lines.pop(i))
        elif how == "value" and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            value = draw(st.sampled_from(TOML_VALUES) | st.sampled_from(ODD_TEXT).map(_quoted))
            lines[i] = f"{key}= {value}"
        elif how == "insert":
            lines.insert(i, draw(st.text(max_size=20) | st.sampled_from(TOML_VALUES)))
        elif how == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        if not lines:
            lines = [""]
    return "\n".join(lines)


def _quoted(text: str) -> str:
    return '"' + "".join(c if c.isalnum() or c == " " else f"\\u{ord(c):04x}" for c in text) + '"'


@fuzz_settings(80)
@given(mutated_text())
def test_the_example_changed_as_text_is_a_config_or_an_error_naming_the_field(
    tmp_path_factory: Any, text: str
) -> None:
    got = load_text(tmp_path_factory.mktemp("cfg"), text)
    if isinstance(got, config.Config) and got.ui_problem:
        assert named(got.ui_problem, got.path) and ": ui." in got.ui_problem


# --- the example, mutated as values ----------------------------------------------------------


@fuzz_settings(150)
@given(mutated(EXAMPLE_DOC))
def test_the_example_changed_as_values_is_a_config_or_an_error_naming_the_field(
    doc: Any,
) -> None:
    value = to_python(doc)
    if not isinstance(value, dict):
        return  # a TOML document is a table (parse's own callers pass one)
    try:
        got = config.parse(value, source="lane.toml")
    except ConfigError as e:
        assert named(e, "lane.toml"), str(e)
        return
    if got.ui_problem:
        assert named(got.ui_problem, "lane.toml") and ": ui." in got.ui_problem


# --- what passes the check runs -----------------------------------------------------------

# Values a technician might well write, valid or nearly so, for keys `run` uses to build
# the lane: each config drawn from them either fails `config check` or must build.
PLAUSIBLE: dict[tuple[str, str], list[Any]] = {
    ("lane", "timezone"): ["", "Asia/Shanghai", "UTC", "localtime", "Etc/GMT-14", "posixrules"],
    ("lane", "log_level"): ["debug", "error"],
    ("lane", "store"): ["S001", "a" * 32, "_", "-"],
    ("lane", "lane"): ["01", "Z" * 32],
    ("sale", "minor_digits"): [0, 4],
    ("sale", "cash_rounding"): ["0.10", "1", "0.05"],
    ("sale", "member_prefix"): ["", "M", "会员", "9" * 40],
    ("sale", "currency"): ["JPY", "XXX"],
    ("members", "lengths"): [[1], [20], [11, 13]],
    ("members", "points_per"): ["0", "1", "0.01"],
    ("approvals", "badge_prefix"): ["", "SV", "ZZZZZZZZ"],
    ("scanner", "match"): ["", "name:*", "usb:0c2e:0b61"],
    ("scanner", "gs_substitute"): ["", "~", "\x1d", "é"],
    ("keypad", "map"): [{}, {"KEY_F1": ""}, {"BTN_0": "ENTER"}],
    ("scale", "enabled"): [True, False],
    ("scale", "protocol"): ["8217", "scp01"],
    ("printer", "enabled"): [True, False],
    ("printer", "paper_mm"): [58, 80],
    ("printer", "columns"): [24, 64],
    ("printer", "encoding"): ["cp437", "utf-8", "gb18030"],
    ("drawer", "enabled"): [True, False],
    ("drawer", "kick_pin"): [0, 27],
    ("drawer", "switch_pin"): [0, 26],
    ("mqtt", "url"): ["mqtt://[::1]:1", "mqtt://127.0.0.1:65535", "mqtt://[fe80::1%25lo]"],
    ("mqtt", "topic_root"): ["a/b/c", "-", "x" * 64],
    ("mqtt", "username"): ["lane", "127.0.0.1", "(a[b"],
    ("mqtt", "password"): ["", "127.0.0.1", "(a[b", "***x", "p\u00e4ss w\u00f6rd"],
    ("mqtt", "max_inflight"): [1, 65535],
    ("mqtt", "reconnect_min_s"): [0.05, 3600],
    ("ui", "enabled"): [True, False],
    # Loopback only: the lane starts here, and a test listens on no other address.
    ("ui", "listen"): ["[::1]:8080", "127.0.0.1:１２", "127.1.2.3:65535", "0.0.0.0:8080"],
    ("ui", "token"): ["", "a" * 16, "Z9" * 64],
    ("ui", "idle_text"): [[], [""], ["x" * 500], ["\u202e", "\U0001f6d2"]],
    ("ui", "language"): ["en", "zh"],
    ("ui", "customer_done_s"): [1, 3600],
    ("display", "language"): ["en", "zh"],
    ("receipt", "header"): [[], ["\x1b@", "x" * 200], ["\U0001f6d2 ☃"]],
    ("receipt", "language"): ["zh", "en"],
    ("customer_display", "enabled"): [True, False],
    ("customer_display", "protocol"): ["cd5220", "escpos", "led8"],
    ("customer_display", "columns"): [8, 40],
    ("backup", "dir"): ["", "/nonexistent/backup"],
}


@st.composite
def plausible_docs(draw: st.DrawFn, data_dir: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "lane": {"store": "S1", "lane": "1", "data_dir": data_dir},
        "scanner": {"path": "/nonexistent/scanner"},
        "keypad": {"path": "/nonexistent/keypad"},
        "scale": {"port": "/nonexistent/scale"},
        "printer": {"port": "/nonexistent/printer"},
        "customer_display": {"port": "/nonexistent/pole"},
        "mqtt": {"url": "mqtt://127.0.0.1:9"},
    }
    keys = draw(st.lists(st.sampled_from(sorted(PLAUSIBLE)), min_size=1, max_size=8, unique=True))
    for table, key in keys:
        doc.setdefault(table, {})[key] = draw(st.sampled_from(PLAUSIBLE[(table, key)]))
    return doc


@fuzz_settings(10)
@given(st.data())
def test_a_config_that_passes_the_check_builds_the_running_lane(
    tmp_path_factory: Any, data: st.DataObject
) -> None:
    data_dir = tmp_path_factory.mktemp("lane") / "data"
    doc = data.draw(plausible_docs(str(data_dir)))
    try:
        cfg = config.parse(doc, source="lane.toml")
    except ConfigError as e:
        assert named(e, "lane.toml"), str(e)
        event("refused by config.parse")
        return
    if any(problem.fatal for problem in check_files(cfg)):
        event("refused by check_files")
        return
    event("built")
    # As `run` does, with the real drivers and display (stdout) on a mock pin factory and
    # an empty list of input devices:
    # logging with the password redacted; build, start, take what the devices and the
    # broker report, take a key, stop.
    logged = io.StringIO()
    setup_logging(cfg.log_level, logged, secrets=[cfg.mqtt.password], journald=False)
    try:
        _run_lane(cfg)
    finally:
        reset_logging()
    if len(cfg.mqtt.password) >= MIN_SECRET_LENGTH:
        assert cfg.mqtt.password not in logged.getvalue()


def _run_lane(cfg: config.Config) -> None:
    # No input device of this machine is listed: a `match` must not grab a real keyboard.
    app = LaneApp(cfg, hardware=Hardware(pin_factory=MockFactory(), input_lister=list))
    try:
        app.start()
        for key in ["1", "0", "0", "1", "SIGNON"]:
            app.inbox.post(KeyPressed(key))
        while (item := app.inbox.take(0.05)) is not None:
            app.loop.step(item)
            app.inbox.done()
        app.housekeeping()
        # What the screens and the status show, from this config.
        screen_view(app.loop.state, app.setup, screen_setup(cfg), now=app.clock())
        customer_view(app.loop.state, app.setup, screen_setup(cfg), now=app.clock())
        app.status()
        assert app.loop.state.mode is Mode.PIN
    finally:
        app.close()


# --- the screen's address ----------------------------------------------------------------------


@fuzz_settings(150)
@given(
    st.tuples(
        st.sampled_from(["127.0.0.1", "[::1]", "::1", "localhost", "", "0.0.0.0", "[::]"]),
        st.sampled_from([":", "", "::"]),
        st.sampled_from([*ODD_TEXT, "8080", "0", "65536", "080", "+80", " 80"])
        | st.text(max_size=6),
    ).map("".join)
    | st.text(max_size=20)
)
@example("127.0.0.1:１２")  # fullwidth digits: isdigit() says yes, and int() reads 12
@example("127.0.0.1:²")  # isdigit() says yes, int() says no
def test_the_screen_listens_where_its_address_says_or_the_lane_says_why(listen: str) -> None:
    """``[ui] listen``: a host and a port of ASCII digits from 1 to 65535, or the lane
    runs without its screen and names ``ui.listen`` and the reason."""
    doc = {"lane": {"store": "S1", "lane": "1"}, "ui": {"listen": listen, "token": "a" * 16}}
    got = config.parse(doc, source="lane.toml")
    if got.ui_problem:
        assert got.ui_problem.startswith("lane.toml: ui.listen: "), got.ui_problem
        assert "invalid literal" not in got.ui_problem  # says what is wrong, in words
        return
    port = listen.rpartition(":")[2]
    assert port.isascii() and port.isdigit() and 1 <= int(port) <= 65535
    assert (got.ui.host, got.ui.port) == config.split_listen(listen)
