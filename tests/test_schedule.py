"""Schedules: exact iteration lists for every config form, and errors that name what is wrong."""

import pytest

from emviz.errors import InputError
from emviz.render.schedule import DEFAULT_SCHEDULE, Schedule, check_iterations, parse_schedule, schedule_iterations


def test_dense_then_every_is_the_notebook_schedule():
    frames = schedule_iterations({"dense": 100, "every": 10}, 1000)
    assert frames == list(range(101)) + list(range(110, 1001, 10))
    assert len(frames) == 191


def test_default_schedule_is_dense_100_every_10():
    assert parse_schedule(None) == DEFAULT_SCHEDULE
    assert len(DEFAULT_SCHEDULE.iterations(1000)) == 191
    assert DEFAULT_SCHEDULE.iterations(37) == list(range(38))


def test_dense_tail_uses_multiples_of_every_and_keeps_the_last():
    assert schedule_iterations({"dense": 5, "every": 10}, 35) == [0, 1, 2, 3, 4, 5, 10, 20, 30, 35]
    assert schedule_iterations({"dense": 0, "every": 4}, 9) == [0, 4, 8, 9]


def test_every_and_all():
    assert schedule_iterations({"every": 7}, 20) == [0, 7, 14, 20]
    assert schedule_iterations("all", 4) == [0, 1, 2, 3, 4]
    assert schedule_iterations({"every": 1}, 3) == [0, 1, 2, 3]
    assert schedule_iterations({}, 2) == [0, 1, 2]


def test_log_spaced_exact():
    assert schedule_iterations({"log": 10}, 1000) == [0, 1, 2, 6, 13, 32, 75, 178, 422, 1000]
    frames = schedule_iterations({"log": 20}, 1000)
    assert len(frames) == 20 and frames == sorted(set(frames)) and frames[0] == 0 and frames[-1] == 1000
    assert schedule_iterations({"log": 2}, 50) == [0, 50]
    assert schedule_iterations({"log": 50}, 9) == list(range(10))


def test_explicit_list_is_sorted_unique_with_first_and_last():
    assert schedule_iterations([5, 3, 5], 10) == [0, 3, 5, 10]
    assert schedule_iterations({"iterations": [2]}, 4) == [0, 2, 4]
    assert schedule_iterations([0], 0) == [0]


def test_max_frames_thins_evenly_keeping_ends():
    # Evenly over the scheduled frames (not over iterations): the 96th of 191 frames is iteration 95.
    assert schedule_iterations({"every": 1, "max_frames": 5}, 100) == [0, 25, 50, 75, 100]
    assert schedule_iterations({"dense": 100, "every": 10, "max_frames": 3}, 1000) == [0, 95, 1000]
    assert schedule_iterations({"log": 4, "max_frames": 10}, 1000) == [0, 1, 32, 1000]


def test_zero_iterations():
    for spec in ("all", {"dense": 3, "every": 2}, {"log": 5}, {"every": 3}):
        assert schedule_iterations(spec, 0) == [0]


def test_iteration_beyond_trace_names_it_and_T():
    with pytest.raises(InputError, match=r"schedule\[1\].*iteration 12 .*0\.\.10.*T=10"):
        schedule_iterations([3, 12], 10)
    with pytest.raises(InputError, match=r"iterations\[0\].*7"):
        check_iterations([7], 5)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("sometimes", r"unknown schedule 'sometimes'"),
        ([1, -2], r"schedule\[1\]: must be >= 0, got -2"),
        ([1, 2.5], r"schedule\[1\]: must be an integer"),
        ([], r"empty"),
        ({"dense": 100}, r"schedule.dense: needs schedule.every"),
        ({"dense": 10, "every": 0}, r"schedule.every: must be >= 1, got 0"),
        ({"every": True}, r"schedule.every: must be an integer"),
        ({"log": 1}, r"schedule.log: must be >= 2"),
        ({"evry": 2}, r"unknown key 'evry' \(did you mean 'every'\?\)"),
        ({"log": 5, "every": 2}, r"every, log cannot be combined"),
        ({"every": 2, "max_frames": 1}, r"schedule.max_frames: must be >= 2"),
        ({"iterations": "1,2"}, r"schedule.iterations: must be a list"),
        (3.5, r"must be \"all\", a list of iterations or a mapping, got float"),
    ],
)
def test_bad_schedules_are_input_errors(spec, message):
    with pytest.raises(InputError, match=message):
        parse_schedule(spec)


def test_integral_floats_are_accepted():
    assert schedule_iterations({"every": 5.0}, 10) == [0, 5, 10]


@pytest.mark.parametrize(
    "spec", ["all", [1, 4], {"dense": 3, "every": 2}, {"every": 3}, {"log": 6, "max_frames": 4},
             {"iterations": [2, 5], "max_frames": 3}, {"every": 1, "max_frames": 4}],
)
def test_to_config_round_trips(spec):
    schedule = parse_schedule(spec)
    assert parse_schedule(schedule.to_config()) == schedule
    assert isinstance(schedule, Schedule)
