import pytest

from app import ratelimit
from app.ratelimit import Rule, TooManyAttempts

RULE = Rule("test", "3/minute", "太多次了")


def test_only_failures_count_and_the_limit_refuses_with_the_message(app):
    with app.app_context():
        for _ in range(3):
            ratelimit.check(RULE, "acct", 1)
            ratelimit.count_failure(RULE, "acct", 1)
        with pytest.raises(TooManyAttempts, match="太多次了") as refused:
            ratelimit.check(RULE, "acct", 1)
        assert refused.value.status == 429
        ratelimit.check(RULE, "acct", 2)  # another account is not affected
        ratelimit.reset(app)
        ratelimit.check(RULE, "acct", 1)


@pytest.mark.redis
def test_counts_are_shared_through_redis(app, redis_url):
    app.config["RATELIMIT_STORAGE_URL"] = redis_url
    with app.app_context():
        for _ in range(3):
            ratelimit.count_failure(RULE, "ip", "10.0.0.1")
        ratelimit.reset(app)  # a new process would start with no memory, but Redis remembers
        with pytest.raises(TooManyAttempts):
            ratelimit.check(RULE, "ip", "10.0.0.1")
