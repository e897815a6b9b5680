"""The send window: what is published next, by seq, with ack time-outs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware_app.sync.window import SendWindow


def window(**kw: float) -> SendWindow:
    return SendWindow(ack_timeout_s=kw.get("timeout", 10.0), max_unacked=int(kw.get("room", 5)))


def test_publishing_moves_the_cursor_and_fills_the_window() -> None:
    w = window()
    for seq in (1, 2, 3):
        assert not w.published(seq, now=0.0)
    assert (w.cursor, w.unacked, w.room()) == (3, 3, 2)


def test_an_ack_frees_the_window_and_never_moves_back() -> None:
    w = window()
    for seq in (1, 2, 3):
        w.published(seq, now=0.0)
    assert w.ack(2)
    assert (w.acked, w.unacked) == (2, 1)
    assert not w.ack(1)  # older ack: harmless
    assert not w.ack(2)  # repeated ack: harmless
    assert w.acked == 2


def test_time_out_rewinds_to_the_oldest_unacked_seq() -> None:
    w = window(timeout=10.0)
    for seq in (1, 2, 3):
        w.published(seq, now=float(seq))
    w.ack(1)
    assert w.deadline() == 12.0
    assert w.expire(11.9) is None
    assert w.expire(12.0) == 2
    assert (w.cursor, w.unacked) == (1, 0)
    assert w.published(2, now=12.0)  # a publication again


def test_restart_sends_everything_unacked_again() -> None:
    w = window()
    for seq in (1, 2, 3):
        w.published(seq, now=0.0)
    w.restart(acked=1)
    assert (w.cursor, w.unacked, w.deadline()) == (1, 0, None)


def test_an_ack_beyond_the_cursor_skips_what_is_already_stored() -> None:
    w = window()
    w.published(1, now=0.0)
    w.ack(7)
    assert w.cursor == 7


ops = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.just(0)),
        st.tuples(st.just("ack"), st.integers(0, 40)),
        st.tuples(st.just("tick"), st.floats(0, 30)),
        st.tuples(st.just("restart"), st.just(0)),
    ),
    max_size=60,
)


@given(ops)
def test_invariants_hold_for_any_sequence_of_events(events: list[tuple[str, float]]) -> None:
    w = window(timeout=10.0, room=8)
    now = 0.0
    for op, arg in events:
        acked_before = w.acked
        if op == "publish" and w.room():
            w.published(w.cursor + 1, now)  # the drain publishes in seq order
        elif op == "ack":
            w.ack(int(arg))
        elif op == "tick":
            now += arg
            w.expire(now)
            deadline = w.deadline()
            assert deadline is None or deadline > now
        elif op == "restart":
            w.restart(w.acked)
        assert w.acked >= acked_before
        assert w.cursor >= w.acked
        assert 0 <= w.unacked <= 8
        assert w.room() == 8 - w.unacked
        assert (w.deadline() is None) == (w.unacked == 0)
