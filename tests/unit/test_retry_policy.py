from mednet_shared.platform.consumer import TRANSIENT, RetryPolicy, TransientError
from mednet_shared.platform.idempotency import ClaimHeldElsewhere


def test_backoff_doubles_and_is_capped():
    policy = RetryPolicy(max_attempts=5, backoff_seconds=0.1, backoff_max_seconds=1.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_what_counts_as_transient():
    from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

    for error in (TransientError("x"), ClaimHeldElsewhere("x"), AutoReconnect("x"), ServerSelectionTimeoutError("x"),
                  ConnectionRefusedError(), TimeoutError()):
        assert isinstance(error, TRANSIENT)
    assert not isinstance(ValueError("x"), TRANSIENT)


def test_a_comma_separated_bootstrap_list_reaches_the_broker_as_separate_hosts():
    from mednet_shared.platform.kafka import servers

    assert servers("127.0.0.1:9092, 127.0.0.1:9094,") == ["127.0.0.1:9092", "127.0.0.1:9094"]
