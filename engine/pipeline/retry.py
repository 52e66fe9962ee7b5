"""What happens after an attempt: the retry policy turns a verdict into the next state."""

from __future__ import annotations

import random

from engine.config import RetryPolicy
from engine.pipeline.items import Claimed, Outcome, Verdict
from engine.store.schema import DeliveryStatus


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """Seconds to wait after the given (1-based) failed attempt, jittered."""
    if policy.backoff == "fixed":
        delay = policy.initial
    else:
        delay = min(policy.max, policy.initial * (2 ** max(0, attempt - 1)))
    spread = delay * policy.jitter
    return max(0.0, delay + random.uniform(-spread, spread))


def decide(
    policy: RetryPolicy,
    item: Claimed,
    verdict: Verdict,
    detail: str,
    started_at: float,
    finished_at: float,
    response: bytes | None,
    acknowledged: bool = False,
) -> Outcome:
    # An unreachable destination is the destination's problem, not the message's: the
    # attempt is recorded but does not count towards max_attempts.
    counted = item.attempts if verdict == "unreachable" else item.attempts + 1
    outcome = Outcome(
        delivery_id=item.delivery_id,
        message_id=item.message_id,
        verdict=verdict,
        status=DeliveryStatus.SENT,
        attempts=counted,
        started_at=started_at,
        duration_ms=(finished_at - started_at) * 1000,
        detail=detail,
        response=response,
    )
    if verdict == "ok":
        if acknowledged:  # the answer was the business receipt (a FHIR Acknowledgement)
            outcome.status = DeliveryStatus.ACKNOWLEDGED
        return outcome
    if verdict == "fatal":
        outcome.status = DeliveryStatus.DEAD
        return outcome
    too_old = policy.max_age and finished_at - item.created_at >= policy.max_age
    if counted >= policy.max_attempts or too_old:
        outcome.status = DeliveryStatus.DEAD
        limit = "max_age" if too_old else f"max_attempts ({policy.max_attempts})"
        outcome.detail = f"{detail} — gave up after {limit}"
        return outcome
    outcome.status = DeliveryStatus.RETRYING
    outcome.next_attempt_at = finished_at + backoff(policy, max(counted, 1))
    return outcome
