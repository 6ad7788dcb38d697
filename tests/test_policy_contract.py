"""The reply policy's contract (rotomail.delivery.smtp_policy), with a fake clock: what a
421/4xx at connection or MAIL asks for, the rate limiter's spacing, the throttle watch's
window and domains, and the retry waits."""

from __future__ import annotations

import threading

import pytest

from rotomail.delivery.smtp_policy import (
    MAX_THROTTLE_WAIT,
    Pace,
    RateLimiter,
    RetryPolicy,
    ThrottleWatch,
    TryAgain,
    sender_signal,
)


@pytest.mark.parametrize(
    ("code", "reply", "throttle", "reconnect"),
    [
        (421, "4.7.0 Too many messages per connection", False, True),
        (421, "4.7.0 Slow down, too many messages", True, False),
        (421, "4.3.2 Service not available, closing channel", False, False),
        (450, "4.7.0 Too many messages per connection", False, False),
        (451, "4.7.1 Throttling failure: Maximum sending rate exceeded", True, False),
        (452, "4.5.3 Too many recipients", False, False),
        (451, "4.3.0 Temporary local problem", False, False),
    ],
)
def test_a_reply_at_connection_or_mail_asks_to_slow_down_or_reconnect(
    code: int, reply: str, throttle: bool, reconnect: bool
) -> None:
    signal = sender_signal(code, reply)
    assert isinstance(signal, TryAgain)
    assert (signal.throttle, signal.reconnect, signal.connect) == (throttle, reconnect, False)
    assert (signal.deferred, signal.refused) == ({}, {})
    assert signal.reply == str(signal) == reply


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("per_minute", "interval"), [(30, 2.0), (120, 0.5), (1, 60.0), (0, 0.0), (-5, 0.0)]
)
def test_the_rate_is_a_fixed_interval_between_sends(per_minute: int, interval: float) -> None:
    assert RateLimiter(per_minute).interval == interval


def test_the_limiter_waits_only_for_what_is_left_of_the_interval() -> None:
    t = FakeTime()
    limiter = RateLimiter(30, clock=t.clock, sleep=t.sleep)
    limiter.wait()  # the first send goes at once
    assert t.slept == []
    t.now += 0.5
    limiter.wait()  # 0.5 s after the first: 1.5 s to go
    assert t.slept == [1.5]
    t.now += 2.0  # exactly the interval later: no wait
    limiter.wait()
    assert t.slept == [1.5]
    t.now += 5.0  # a slow message: the next send need not make up for it
    limiter.wait()
    t.now += 1.0
    limiter.wait()
    assert t.slept == [1.5, 1.0]


def test_without_a_rate_nothing_waits() -> None:
    t = FakeTime()
    limiter = RateLimiter(0, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        limiter.wait()
    assert t.slept == []


@pytest.mark.parametrize(
    ("per_minute", "minimum", "after"),
    [
        (30, 1.0, 4.0),  # doubled
        (30, 10.0, 10.0),  # at least the minimum
        (0, 5.0, 5.0),  # no rate yet: the minimum
        (2, 1.0, 60.0),  # never more than a minute
        (1, 1.0, 60.0),
    ],
)
def test_slowing_down_doubles_the_interval(per_minute: int, minimum: float, after: float) -> None:
    limiter = RateLimiter(per_minute)
    limiter.slow_down(minimum)
    assert limiter.interval == after


RATE = "450 4.7.1 Rate limit exceeded, slow down"


def test_three_domains_throttling_within_a_minute_are_about_the_sender() -> None:
    t = FakeTime()
    watch = ThrottleWatch(clock=t.clock)
    assert not watch.seen({"a@uno.example.com": RATE})
    t.now += 30
    assert not watch.seen({"b@dos.example.com": RATE, "c@cinco.example.com": "450 4.2.0 busy"})
    t.now += 30  # uno's reply is exactly a minute old: still within the window
    assert watch.seen({"d@tres.example.com": RATE})
    # answered once, then starts over
    assert not watch.seen({"f@cuatro.example.com": RATE})


def test_a_domain_in_other_letters_is_the_same_domain() -> None:
    watch = ThrottleWatch(clock=FakeTime().clock)
    assert not watch.seen(
        {"a@UNO.example.com": RATE, "b@uno.example.com": RATE, "c@Dos.Example.com": RATE}
    )


def test_a_domain_is_forgotten_after_a_minute() -> None:
    t = FakeTime()
    watch = ThrottleWatch(clock=t.clock)
    assert not watch.seen({"a@uno.example.com": RATE, "b@dos.example.com": RATE})
    t.now += 60.5
    assert not watch.seen({"c@tres.example.com": RATE})


def test_the_domain_is_what_follows_the_last_at_sign() -> None:
    watch = ThrottleWatch(clock=FakeTime().clock)
    # quoted local parts with "@": one domain, not three
    assert not watch.seen(
        {
            '"ventas@norte"@example.com': RATE,
            '"ventas@sur"@example.com': RATE,
            "pagos@example.com": RATE,
        }
    )


def test_retry_waits_follow_the_backoff_with_jitter() -> None:
    policy = RetryPolicy((2.0, 10.0), rng=lambda: 0.5)  # jitter factor exactly 1
    assert [policy.wait(n) for n in (1, 2, 3, 9)] == [2.0, 10.0, 10.0, 10.0]
    assert [policy.throttle_wait(n) for n in (0, 1, 2, 3)] == [10.0, 20.0, 40.0, 80.0]
    assert policy.throttle_wait(10) == MAX_THROTTLE_WAIT
    assert RetryPolicy((2.0,), rng=lambda: 0.0).wait(1) == pytest.approx(1.6)
    assert RetryPolicy((2.0,), rng=lambda: 1.0).wait(1) == pytest.approx(2.4)


def test_an_empty_backoff_waits_one_second() -> None:
    assert RetryPolicy((), rng=lambda: 0.5).wait(1) == 1.0


def test_a_connection_that_could_not_be_opened_is_neither_throttle_nor_reconnect() -> None:
    failure = TryAgain("conexión rechazada", connect=True)
    assert (failure.connect, failure.throttle, failure.reconnect) == (True, False, False)


@pytest.mark.parametrize(
    ("daily_cap", "sent_today", "slots"),
    [(0, 0, 12), (0, 500, 12), (3, 0, 3), (3, 1, 2), (3, 3, 0), (3, 7, 0), (1, 0, 1)],
)
def test_the_daily_cap_gives_out_only_the_slots_left_today(
    daily_cap: int, sent_today: int, slots: int
) -> None:
    pace = Pace(0, daily_cap, sent_today)
    taken = [pace.reserve() for _ in range(12)]
    assert taken == [True] * slots + [False] * (12 - slots)


def test_a_slot_given_back_unsent_can_be_taken_again_a_sent_one_cannot() -> None:
    pace = Pace(0, daily_cap=2)
    assert pace.reserve() and pace.reserve()
    assert not pace.reserve()
    pace.release(sent=False)
    assert pace.sent == 0
    assert pace.reserve()
    pace.release(sent=True)
    pace.release(sent=True)
    assert pace.sent == 2
    assert not pace.reserve()


def test_sessions_at_once_never_reserve_past_the_cap() -> None:
    pace = Pace(0, daily_cap=5, sent_today=1)
    start = threading.Barrier(8)
    granted: list[bool] = []

    def session() -> None:
        start.wait()
        for _ in range(10):
            granted.append(pace.reserve())

    threads = [threading.Thread(target=session) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 4


def test_the_pace_shares_one_rate_and_one_throttle_watch_on_its_clock() -> None:
    t = FakeTime()
    pace = Pace(30, clock=t.clock, sleep=t.sleep)
    pace.limiter.wait()
    pace.limiter.wait()
    assert t.slept == [2.0]
    assert not pace.throttles.seen({"a@uno.example.com": RATE, "b@dos.example.com": RATE})
    t.now += 61  # the watch reads the pace's clock: both domains are forgotten
    assert not pace.throttles.seen({"c@tres.example.com": RATE})


def test_without_a_daily_cap_every_slot_is_given() -> None:
    pace = Pace(30)
    assert all(pace.reserve() for _ in range(1_000))


def test_every_slot_given_back_unsent_is_free_again() -> None:
    pace = Pace(0, daily_cap=3)
    assert [pace.reserve() for _ in range(4)] == [True, True, True, False]
    for _ in range(3):
        pace.release(sent=False)
    assert [pace.reserve() for _ in range(4)] == [True, True, True, False]
    assert pace.sent == 0
