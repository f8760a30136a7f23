"""Summaries of open disagreements for the digest: a small interface, two implementations.

`summarizer_for(settings, engine)` picks the OpenAI-compatible client when OPENAI_API_KEY is
set and the deterministic fallback otherwise; the OpenAI one falls back by itself on failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import Engine

from bot.config import Settings
from bot.domain.summaries import DisagreementBrief, DisagreementSummary, ItemSummary, TokenUsage
from bot.summarize.fallback import FallbackSummarizer

PROMPT_NAME = "disagreement_summary"
PROMPT_VERSION = 2


class Summarizer(Protocol):
    name: str

    def summarize(
        self, briefs: Sequence[DisagreementBrief], *, today: date
    ) -> DisagreementSummary: ...


def summarizer_for(settings: Settings, engine: Engine, *, now: datetime) -> Summarizer:
    key = settings.openai_api_key.get_secret_value().strip() if settings.openai_api_key else ""
    if not key:
        return FallbackSummarizer()
    import openai

    from bot.summarize.cache import SummaryCache
    from bot.summarize.openai_summarizer import OpenAISummarizer
    from bot.summarize.prompts import load_prompt

    client = openai.OpenAI(
        api_key=key,
        base_url=settings.openai_base_url or None,
        timeout=settings.accord_llm_timeout_seconds,
        max_retries=settings.accord_llm_max_retries,
    )
    return OpenAISummarizer(
        client=client,
        model=settings.openai_model,
        prompt=load_prompt(PROMPT_NAME, PROMPT_VERSION, directory=settings.accord_prompts_dir),
        cache=SummaryCache(engine),
        max_items=settings.accord_llm_chunk_max_items,
        max_chars=settings.accord_llm_chunk_max_chars,
        now=now,
        call_timeout=settings.accord_llm_timeout_seconds,
        budget_seconds=settings.accord_llm_digest_budget_seconds,
        concurrency=settings.accord_llm_concurrency,
    )


__all__ = [
    "DisagreementBrief",
    "DisagreementSummary",
    "FallbackSummarizer",
    "ItemSummary",
    "Summarizer",
    "TokenUsage",
    "summarizer_for",
]
