"""Gap-free counters (MRNs, invoice numbers) under concurrent writers."""

from __future__ import annotations

import threading

import pytest

from hms_app import db as hms_db
from hms_app.services.counters import peek, take_numbers


def test_a_new_counter_starts_at_one_and_hands_out_consecutive_blocks(session):
    assert peek(session, "mrn") == 0
    assert list(take_numbers(session, "mrn")) == [1]
    assert list(take_numbers(session, "mrn", 3)) == [2, 3, 4]
    session.commit()
    assert peek(session, "mrn") == 4
    assert list(take_numbers(session, "invoice", 2)) == [1, 2]  # counters are independent
    session.commit()
    assert peek(session, "mrn") == 4


def test_a_count_below_one_is_refused(session):
    with pytest.raises(ValueError):
        take_numbers(session, "mrn", 0)


def test_a_rolled_back_transaction_gives_its_numbers_back(session, configured_db):
    assert list(take_numbers(session, "mrn", 5)) == [1, 2, 3, 4, 5]
    session.commit()
    assert list(take_numbers(session, "mrn", 3)) == [6, 7, 8]
    session.rollback()
    with hms_db.session_scope(configured_db) as other:
        assert peek(other, "mrn") == 5
        assert list(take_numbers(other, "mrn", 2)) == [6, 7]
        other.commit()


def test_a_rolled_back_first_use_leaves_no_counter_behind(session, configured_db):
    assert list(take_numbers(session, "fresh", 2)) == [1, 2]
    session.rollback()
    with hms_db.session_scope(configured_db) as other:
        assert peek(other, "fresh") == 0
        assert list(take_numbers(other, "fresh")) == [1]


def test_concurrent_writers_never_share_or_skip_a_number(configured_db):
    """10 threads each take 20 numbers, one per transaction, racing from a counter that does not exist yet."""
    threads_count, per_thread = 10, 20
    taken: list[list[int]] = [[] for _ in range(threads_count)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def work(number: int) -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                with hms_db.session_scope(configured_db) as own:
                    taken[number].extend(take_numbers(own, "race"))
                    own.commit()
        except BaseException as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    everything = [n for numbers in taken for n in numbers]
    assert len(everything) == threads_count * per_thread
    assert sorted(everything) == list(range(1, threads_count * per_thread + 1))
    assert all(numbers == sorted(numbers) for numbers in taken)  # each writer's numbers only go up
    with hms_db.session_scope(configured_db) as fresh:
        assert peek(fresh, "race") == threads_count * per_thread


def test_concurrent_blocks_do_not_overlap(configured_db):
    threads_count = 6
    blocks: list[range] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def work(size: int) -> None:
        try:
            start.wait()
            with hms_db.session_scope(configured_db) as own:
                block = take_numbers(own, "blocks", size)
                own.commit()
            with lock:
                blocks.append(block)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(size,)) for size in range(1, threads_count + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    numbers = sorted(n for block in blocks for n in block)
    assert numbers == list(range(1, sum(range(1, threads_count + 1)) + 1))
