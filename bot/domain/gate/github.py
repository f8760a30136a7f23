"""GitHub custom deployment protection rules: decide a review, keep it until GitHub has it.

A review is a row (`github_review`) written in the webhook's transaction; the sender (bot/github)
posts it after commit and the clock retries what failed, so a decision is never lost. In
"wait" environments a held deployment stays `waiting` and is approved once its holds are gone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from bot.domain.audit import record_event
from bot.domain.gate.models import (
    COMMENT_MAX,
    CheckSource,
    GithubReview,
    ReviewDecision,
    ReviewState,
)
from bot.domain.gate.service import DeploymentAttempt, Hold, holds_for, record_check

#: GitHub lets a deployment wait for review for 30 days; after that it is not worth sending.
REVIEW_WINDOW = timedelta(days=30)
#: How long one sender may hold a claimed review before another may take it over.
CLAIM_LEASE = timedelta(minutes=2)
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)

LinkFor = Callable[[str], str | None]


@dataclass(frozen=True)
class ProtectionRequest:
    """What a `deployment_protection_rule` event asks."""

    repository: str  # owner/repo
    environment: str
    callback_url: str
    installation_id: int
    sha: str | None = None
    run_url: str | None = None
    deployment_id: str | None = None
    requested_by: str | None = None  # the GitHub login that started the deployment
    ref: str | None = None  # the branch or tag deployed


def service_name(repository: str) -> str:
    """How initiatives name a repository: `covers:github:acme/payments@production`."""
    return f"github:{repository.lower()}"


def review_key(callback_url: str, environment: str) -> str:
    return hashlib.sha256(f"{callback_url}\n{environment.lower()}".encode()).hexdigest()


def rejection_comment(holds: list[Hold], *, link_for: LinkFor, waiting: bool) -> str:
    lines = []
    for hold in holds:
        link = hold.link or link_for(hold.initiative)
        lines.append(
            f"Accord security hold {hold.initiative} ({hold.title}): {hold.reason} "
            f"— placed by Slack user {hold.placed_by} on {hold.placed_at:%Y-%m-%d %H:%M} UTC."
            + (f" Discuss it in Slack: {link}" if link else "")
        )
    if waiting:
        lines.append("This deployment waits and is approved when the hold is released.")
    text = "\n".join(lines)
    return text if len(text) <= COMMENT_MAX else text[: COMMENT_MAX - 1] + "…"


def decide(
    session: Session,
    *,
    request: ProtectionRequest,
    wait: bool,
    now: datetime,
    link_for: LinkFor,
) -> GithubReview:
    """Answer the event once: a redelivered webhook finds the review it already made."""
    key = review_key(request.callback_url, request.environment)
    existing = session.exec(select(GithubReview).where(GithubReview.review_key == key)).first()
    if existing is not None:
        return existing
    answer = record_check(
        session,
        attempt=DeploymentAttempt(
            service=service_name(request.repository),
            environment=request.environment,
            version=request.sha,
            pipeline_url=request.run_url,
            deployment_id=request.deployment_id,
            requested_by=request.requested_by,
            ref=request.ref,
        ),
        caller=request.repository,
        source=CheckSource.GITHUB,
        now=now,
    )
    review = GithubReview(
        review_key=key,
        repository=request.repository.lower(),
        environment=request.environment,
        callback_url=request.callback_url,
        installation_id=request.installation_id,
        check_id=answer.check_id,
        created_at=now,
        state=ReviewState.PENDING,
        next_attempt_at=now,
    )
    if answer.allowed:
        review.decision = ReviewDecision.APPROVED
        review.comment = "No Accord security hold covers this deployment."
    elif wait:
        review.state = ReviewState.WAITING
        review.next_attempt_at = None
        review.comment = rejection_comment(answer.holds, link_for=link_for, waiting=True)
    else:
        review.decision = ReviewDecision.REJECTED
        review.comment = rejection_comment(answer.holds, link_for=link_for, waiting=False)
    session.add(review)
    session.flush()
    return review


def approve_released(session: Session, *, now: datetime) -> list[int]:
    """Waiting reviews whose holds are all released become approvals to send (once each)."""
    approved = []
    waiting = session.exec(
        select(GithubReview).where(GithubReview.state == ReviewState.WAITING).with_for_update()
    ).all()
    for review in waiting:
        if now - review.created_at.replace(tzinfo=now.tzinfo) > REVIEW_WINDOW:
            review.state = ReviewState.FAILED
            review.last_error = "still held when GitHub's 30-day review window closed"
            continue
        if holds_for(
            session,
            service=service_name(review.repository),
            environment=review.environment,
            now=now,
        ):
            continue
        review.state = ReviewState.PENDING
        review.decision = ReviewDecision.APPROVED
        review.comment = "The Accord security hold was released; deployment approved."
        review.next_attempt_at = now
        record_event(
            session,
            at=now,
            actor_id="github:accord",
            record_ref=f"GATE-{review.check_id}",
            action="gate.github_approved_after_release",
            after={"repository": review.repository, "environment": review.environment},
        )
        assert review.id is not None
        approved.append(review.id)
    return approved


def claim_due(
    session: Session, *, now: datetime, only: int | None = None, limit: int = 50
) -> list[GithubReview]:
    """Take the reviews due for sending; a guarded update makes each claim exclusive."""
    query = select(GithubReview.id).where(
        GithubReview.state == ReviewState.PENDING,
        col(GithubReview.next_attempt_at) <= now,
        or_(col(GithubReview.claimed_until).is_(None), col(GithubReview.claimed_until) < now),
    )
    if only is not None:
        query = query.where(GithubReview.id == only)
    claimed = []
    for review_id in session.exec(query.order_by(col(GithubReview.id)).limit(limit)).all():
        result = session.execute(
            update(GithubReview)
            .where(
                col(GithubReview.id) == review_id,
                col(GithubReview.state) == ReviewState.PENDING,
                or_(
                    col(GithubReview.claimed_until).is_(None),
                    col(GithubReview.claimed_until) < now,
                ),
            )
            .values(claimed_until=now + CLAIM_LEASE)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            review = session.get(GithubReview, review_id)
            assert review is not None
            session.refresh(review)
            claimed.append(review)
    return claimed


def mark_sent(session: Session, *, review_id: int, now: datetime) -> None:
    review = session.get(GithubReview, review_id)
    assert review is not None
    review.state = ReviewState.SENT
    review.sent_at = now
    review.claimed_until = None
    review.attempts += 1
    review.last_error = None


def mark_failed_attempt(
    session: Session,
    *,
    review_id: int,
    now: datetime,
    error: str,
    permanent: bool,
    retry_after: float | None = None,
) -> None:
    """Back off (30 s doubling to an hour, or GitHub's Retry-After); give up when it is
    permanent or GitHub's review window has closed."""
    review = session.get(GithubReview, review_id)
    assert review is not None
    review.attempts += 1
    review.claimed_until = None
    review.last_error = error[:500]
    expired = now - review.created_at.replace(tzinfo=now.tzinfo) > REVIEW_WINDOW
    if permanent or expired:
        review.state = ReviewState.FAILED
        review.next_attempt_at = None
        return
    delay = min(RETRY_FIRST * (2 ** (review.attempts - 1)), RETRY_MAX)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    review.next_attempt_at = now + delay
