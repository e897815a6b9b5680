"""The send window: what is published next, by seq, with ack time-outs, and how live rows
go out ahead of a draining backlog within their reserve."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware_app.sync.window import SendWindow, live_reserve


def window(**kw: float) -> SendWindow:
    return SendWindow(ack_timeout_s=kw.get("timeout", 10.0), max_unacked=int(kw.get("room", 5)))


def publish(w: SendWindow, *seqs: int, now: float = 0.0) -> list[bool]:
    return [w.published(seq, now) for seq in seqs]


def test_the_live_reserve_is_a_tenth_and_never_the_whole_window() -> None:
    assert [live_reserve(n) for n in (1, 2, 5, 10, 100, 1000)] == [0, 1, 1, 1, 10, 100]


def test_publishing_moves_the_cursor_and_fills_the_window() -> None:
    w = window()
    w.restart(acked=0, last_seq=10)
    assert publish(w, 1, 2, 3) == [False, False, False]
    assert (w.cursor, w.unacked, w.room(), w.backlog_room(), w.live_room()) == (3, 3, 2, 1, 1)
    assert w.draining


def test_a_live_row_goes_out_while_the_backlog_holds_its_whole_share() -> None:
    w = window(room=10)  # reserve: 1
    w.restart(acked=0, last_seq=100)
    publish(w, *range(1, 10))
    assert (w.backlog_room(), w.live_room()) == (0, 1)
    publish(w, 101)  # committed after the pass began
    assert (w.live_cursor, w.unacked, w.room(), w.live_room()) == (101, 10, 0, 0)


def test_an_ack_frees_the_window_and_never_moves_back() -> None:
    w = window()
    w.restart(acked=0, last_seq=3)
    publish(w, 1, 2, 3)
    assert w.ack(2)
    assert (w.acked, w.unacked) == (2, 1)
    assert not w.ack(1)  # older ack: harmless
    assert not w.ack(2)  # repeated ack: harmless
    assert w.acked == 2


def test_an_ack_past_the_gap_covers_the_live_rows_that_overtook_the_backlog() -> None:
    w = window(room=10)
    w.restart(acked=0, last_seq=5)
    publish(w, 1, 2, 6, 3, 4, 5)
    assert w.ack(2)
    assert w.unacked == 4  # 6 waits for 3 to 5: the store server acks up to a gap
    assert w.ack(6)
    assert (w.unacked, w.cursor, w.live_cursor, w.draining) == (0, 5, 6, False)


def test_after_the_backlog_live_rows_may_use_the_whole_window() -> None:
    w = window(room=10)
    w.restart(acked=0, last_seq=2)
    publish(w, 1, 2)
    assert not w.draining and w.live_room() == 8


def test_time_out_runs_for_the_lowest_unacked_seq_and_rewinds_in_seq_order() -> None:
    w = window(timeout=10.0, room=10)
    w.restart(acked=0, last_seq=3)
    publish(w, 4, now=0.0)  # live, early: not late while 1 to 3 are not acked
    publish(w, 1, 2, 3, now=4.0)
    assert w.deadline() == 14.0
    w.ack(1)
    w.published(5, now=20.0)  # live too
    assert w.deadline() == 14.0  # seq 2's
    assert w.expire(13.9) is None
    assert w.expire(14.0) == 2
    assert (w.cursor, w.backlog_end, w.unacked, w.draining) == (1, 5, 0, True)
    assert publish(w, 2, 3, 4, 5, now=14.0) == [True] * 4  # publications again, in seq order


def test_restart_sends_everything_unacked_again() -> None:
    w = window()
    w.restart(acked=0, last_seq=3)
    publish(w, 1, 2, 3)
    w.restart(acked=1, last_seq=4)
    assert (w.cursor, w.backlog_end, w.unacked, w.deadline()) == (1, 4, 0, None)
    assert publish(w, 2, 3, 4) == [True, True, False]


def test_backlog_rows_after_a_live_row_are_not_counted_as_sent_again() -> None:
    w = window(room=10)
    w.restart(acked=0, last_seq=3)
    assert publish(w, 4, 1, 2, 3) == [False] * 4
    w.restart(acked=0, last_seq=4)
    assert publish(w, 1, 2, 3, 4, 5) == [True, True, True, True, False]


def test_an_ack_beyond_the_cursor_skips_what_is_already_stored() -> None:
    w = window()
    w.restart(acked=0, last_seq=10)
    publish(w, 1)
    w.ack(7)
    assert (w.cursor, w.live_cursor) == (7, 10)
    w.ack(12)
    assert (w.cursor, w.live_cursor, w.draining) == (10, 12, False)


def test_end_backlog_stops_the_drain() -> None:
    w = window()
    w.restart(acked=0, last_seq=10)
    w.end_backlog()
    assert not w.draining and w.backlog_room() == 0


ops = st.lists(
    st.one_of(
        st.tuples(st.just("backlog"), st.just(0)),
        st.tuples(st.just("live"), st.just(0)),
        st.tuples(st.just("ack"), st.integers(0, 60)),
        st.tuples(st.just("tick"), st.floats(0, 30)),
        st.tuples(st.just("restart"), st.integers(0, 10)),
    ),
    max_size=80,
)


@given(ops)
def test_invariants_hold_for_any_sequence_of_events(events: list[tuple[str, float]]) -> None:
    w = window(timeout=10.0, room=8)
    w.restart(acked=0, last_seq=20)
    now = 0.0
    committed = 20
    for op, arg in events:
        acked_before = w.acked
        if op == "backlog" and w.backlog_room():
            w.published(w.cursor + 1, now)  # the drain publishes in seq order
        elif op == "live" and w.live_room():
            committed = max(committed, w.live_cursor + 1)
            w.published(w.live_cursor + 1, now)
        elif op == "ack":
            w.ack(min(int(arg), w.highest))  # as the service does: never past what went out
        elif op == "tick":
            now += arg
            w.expire(now)
            deadline = w.deadline()
            assert deadline is None or deadline > now
        elif op == "restart":
            committed += int(arg)
            w.restart(w.acked, committed)
        assert w.acked >= acked_before
        assert w.cursor >= min(w.acked, w.backlog_end)
        assert w.live_cursor >= max(w.acked, w.backlog_end)
        assert 0 <= w.unacked <= 8
        assert w.room() == 8 - w.unacked
        assert w.backlog_room() + w.live_room() <= w.room()
        assert (w.deadline() is None) == (w.unacked == 0)
