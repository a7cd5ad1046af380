"""The reducer: idempotent, independent of arrival order, bounded, serialisable."""

from __future__ import annotations

import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import kinds as K
from streams.core.events import SUB_BITS, Event
from streams.core.reducer import MAX_FILES, Reducer, ServerState
from streams.core.view import build_view

MINUTE = 60_000_000
T0 = 1_102_357_295_000_000  # 2004-12-06T18:21:35Z


def chain(
    kinds: list[tuple[str, str]], server: str = "MGTPOINT1", host: str = "H", file: str = "f"
) -> list[Event]:
    """Events of one file for one server, one record apart, chained like the extractor chains them."""
    events = []
    prev = -1
    for i, (kind, variant) in enumerate(kinds):
        pos = (i * 100) * SUB_BITS
        events.append(
            Event(
                kind,
                server,
                T0 + i * MINUTE,
                host,
                file,
                pos,
                variant=variant,
                prev=prev,
                text=f"{kind} {i}",
                mp=True,
            )
        )
        prev = pos
    return events


def verifications(n: int, file: str = "MPControl.log", start: int = 0) -> list[Event]:
    events = chain([(K.HTTP_VERIFY, "200")] * n, host="MGTPOINT1", file=file)
    return events[start:]


def view_json(reducer: Reducer, now: int) -> bytes:
    return orjson.dumps(build_view(reducer, now))


def test_replaying_events_changes_nothing() -> None:
    events = chain(
        [(K.INSTALL_PENDING, ""), (K.INSTALL_STARTED, ""), (K.INSTALL_CONFIRMED, "")]
    ) + verifications(50)
    once, twice = Reducer(), Reducer()
    assert once.apply_all(events) == len(events)
    twice.apply_all(events)
    assert twice.apply_all(events) == 0
    assert all(not twice.apply(e) for e in reversed(events))
    now = T0 + 60 * MINUTE
    assert view_json(once, now) == view_json(twice, now)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=4),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_any_arrival_order_with_duplicates_gives_the_same_view(sizes: list[int], seed: int) -> None:
    rng = random.Random(seed)
    events: list[Event] = []
    for n, size in enumerate(sizes):
        kinds = [
            rng.choice([(K.HTTP_VERIFY, "200"), (K.HTTP_VERIFY, "401"), (K.INSTALL_PENDING, "")])
            for _ in range(size)
        ]
        events.extend(chain(kinds, file=f"file{n}"))
    baseline = Reducer()
    baseline.apply_all(events)
    shuffled = events + rng.sample(events, k=len(events) // 2)
    rng.shuffle(shuffled)
    other = Reducer()
    other.apply_all(shuffled)
    now = T0 + 120 * MINUTE
    assert view_json(other, now) == view_json(baseline, now)
    # every gap filled: one interval per file, whatever the order
    state = other.servers["MGTPOINT1"]
    assert all(len(entry[1]) == 1 for entry in state.seen.values())


@settings(max_examples=150, deadline=None)
@given(n=st.integers(min_value=1, max_value=60), data=st.data())
def test_each_event_is_new_exactly_once_whatever_the_order(n: int, data: st.DataObject) -> None:
    """apply() says True exactly for first sightings; the file's applied positions stay as few
    intervals as there are runs of consecutive chain elements; every new event is kept or counted."""
    events = verifications(n)
    order = data.draw(st.lists(st.integers(min_value=0, max_value=n - 1), max_size=3 * n))
    order += data.draw(st.permutations(range(n)))
    state = ServerState("MGTPOINT1")
    applied: set[int] = set()
    for i in order:
        assert state.apply(events[i]) == (i not in applied)
        applied.add(i)
        runs = sum(1 for j in applied if j - 1 not in applied)
        assert [len(entry[1]) for entry in state.seen.values()] == [runs]
    series = state.series[(K.HTTP_VERIFY, "200")]
    assert len(series.events()) + series.n_mid == n
    assert state.events() == events[: len(series.head)] + events[n - len(series.tail) :]
    if series.n_mid:
        assert (series.mid_first, series.mid_last) == (
            events[len(series.head)],
            events[n - len(series.tail) - 1],
        )


def test_repetitive_series_are_bounded_and_counted_exactly() -> None:
    reducer = Reducer()
    n = 20_000
    reducer.apply_all(verifications(n))
    state = reducer.servers["MGTPOINT1"]
    series = state.series[(K.HTTP_VERIFY, "200")]
    head, tail = K.REPETITIVE_CAPS
    assert len(series.head) == head and len(series.tail) == tail
    assert series.n_mid == n - head - tail
    assert series.mid_first is not None and series.mid_first.pos == head * 100 * SUB_BITS
    assert series.mid_last is not None and series.mid_last.pos == (n - tail - 1) * 100 * SUB_BITS
    assert [len(entry[1]) for entry in state.seen.values()] == [1]
    summary = [e for e in build_view(reducer, None)["servers"][0]["timeline"] if "more" in e["message"]]
    assert len(summary) == 1 and str(n - head - tail) in summary[0]["message"]


def test_replay_of_dropped_middle_events_is_recognised() -> None:
    events = verifications(1_000)
    reducer = Reducer()
    reducer.apply_all(events)
    before = view_json(reducer, T0)
    assert reducer.apply_all(events[400:600]) == 0
    assert view_json(reducer, T0) == before


def test_shuffled_large_input_still_ends_with_one_interval_per_file() -> None:
    events = verifications(5_000)
    random.Random(7).shuffle(events)
    reducer = Reducer()
    reducer.apply_all(events)
    state = reducer.servers["MGTPOINT1"]
    assert [len(entry[1]) for entry in state.seen.values()] == [1]
    assert state.series[(K.HTTP_VERIFY, "200")].n_mid == 5_000 - sum(K.REPETITIVE_CAPS)


def test_milestones_are_kept_in_full() -> None:
    kinds = [(K.INSTALL_PENDING, ""), (K.INSTALL_STARTED, ""), (K.MSI_EXIT, "1603")] * 20
    reducer = Reducer()
    reducer.apply_all(chain(kinds))
    assert len(reducer.servers["MGTPOINT1"].events()) == 60


def test_the_number_of_remembered_files_is_capped() -> None:
    state = ServerState("MGTPOINT1")
    for n in range(MAX_FILES + 25):
        state.apply(
            Event(K.IIS_MP_ERROR, "MGTPOINT1", T0 + n, "MGTPOINT1", f"W3SVC1/ex{n}.log", 0, variant="401")
        )
    assert len(state.seen) == MAX_FILES
    assert ("MGTPOINT1", "W3SVC1/ex0.log") not in state.seen  # the oldest file went first


def test_events_of_other_servers_do_not_touch_a_state() -> None:
    reducer = Reducer()
    reducer.apply_all(chain([(K.INSTALL_PENDING, "")], server="MGTPOINT1"))
    reducer.apply_all(chain([(K.INSTALL_PENDING, "")], server="MGTPOINT2", file="g"))
    assert sorted(reducer.servers) == ["MGTPOINT1", "MGTPOINT2"]
    assert all(len(s.events()) == 1 for s in reducer.servers.values())


def test_state_survives_serialisation_and_goes_on_as_if_never_stopped() -> None:
    events = chain([(K.INSTALL_PENDING, ""), (K.INSTALL_CONFIRMED, "")]) + verifications(300)
    straight = Reducer()
    straight.apply_all(events)
    first = Reducer()
    first.apply_all(events[:150])
    restored = Reducer.from_dict(orjson.loads(orjson.dumps(first.to_dict())))
    restored.apply_all(events[100:])  # overlapping replay after the restart
    now = T0 + 400 * MINUTE
    assert view_json(restored, now) == view_json(straight, now)


def test_state_with_gaps_survives_serialisation() -> None:
    events = chain([(K.INSTALL_PENDING, ""), (K.INSTALL_CONFIRMED, "")]) + verifications(300)
    straight = Reducer()
    straight.apply_all(events)
    rng = random.Random(11)
    first = Reducer()
    first.apply_all(rng.sample(events, k=len(events) // 2))  # many applied intervals per file
    assert max(len(entry[1]) for entry in first.servers["MGTPOINT1"].seen.values()) > 1
    restored = Reducer.from_dict(orjson.loads(orjson.dumps(first.to_dict())))
    assert restored.apply_all(rng.sample(events, k=len(events))) == len(events) - len(events) // 2
    now = T0 + 400 * MINUTE
    assert view_json(restored, now) == view_json(straight, now)
    assert all(len(entry[1]) == 1 for entry in restored.servers["MGTPOINT1"].seen.values())


def test_events_round_trip_through_json() -> None:
    event = Event(
        K.VDIR_FAILED, "MGTPOINT2", T0, "MGTPOINT2", "SMS/Logs/MPSetup.log", 1234 * SUB_BITS + 1,
        variant="80041315", prev=77, line=12, file="SMS/Logs/MPSetup.log", text="t", message="m",
        inferred=True, mp=True, data={"vdir": "CCM_Incoming"},
    )  # fmt: skip
    again = Event.from_dict(orjson.loads(orjson.dumps(event.to_dict())))
    assert again == event and again.key == event.key
    assert event.id == "MGTPOINT2:SMS/Logs/MPSetup.log:1234/1"
