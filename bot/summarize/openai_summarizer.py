"""The LLM summariser: any OpenAI-compatible server, structured output, checked before use.

Flow for one digest:
1. each brief gets a content hash (prompt key + template digest + model + the brief's canonical
   JSON); briefs whose hash is in `summary_cache` are not sent again;
2. the rest are sent in chunks (at most `accord_llm_chunk_max_items` briefs and about
   `accord_llm_chunk_max_chars` characters of records per call), as JSON inside <records> tags;
3. each answer must parse into the schema and pass `checks.check_items` for its chunk;
4. merge: the per-brief items are concatenated in the digest's order and the overview is
   computed deterministically from the records (counts), so the merge adds no new claims;
5. if any call fails (timeout, HTTP error, refusal, invalid JSON, failed check) the whole digest
   uses the deterministic summary, and the reason is logged and shown as "fallback".
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import date, datetime

import openai
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.summarize.briefs import (
    DisagreementBrief,
    DisagreementSummary,
    ItemSummary,
    TokenUsage,
    deterministic_overview,
)
from bot.summarize.cache import SummaryCache
from bot.summarize.checks import check_items
from bot.summarize.fallback import FallbackSummarizer
from bot.summarize.prompts import Prompt

log = logging.getLogger(__name__)


class ItemOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str
    summary: str
    cio_position: str
    ciso_position: str


class ChunkOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemOut]


class SummaryFailed(Exception):
    """The LLM's answer cannot be used; the message says why (it is logged, never posted)."""


def records_block(briefs: Sequence[DisagreementBrief]) -> str:
    """The records as JSON; `<` and `>` are \\u-escaped so no value can close the tag."""
    text = json.dumps([b.record() for b in briefs], ensure_ascii=False, indent=1)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def chunked(
    briefs: Sequence[DisagreementBrief], *, max_items: int, max_chars: int
) -> list[list[DisagreementBrief]]:
    chunks: list[list[DisagreementBrief]] = []
    current: list[DisagreementBrief] = []
    size = 0
    for brief in briefs:
        length = len(brief.canonical_json())
        if current and (len(current) >= max_items or size + length > max_chars):
            chunks.append(current)
            current, size = [], 0
        current.append(brief)
        size += length
    if current:
        chunks.append(current)
    return chunks


class OpenAISummarizer:
    name = "llm"

    def __init__(
        self,
        *,
        client: openai.OpenAI,
        model: str,
        prompt: Prompt,
        cache: SummaryCache,
        max_items: int = 20,
        max_chars: int = 12000,
        now: datetime | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.prompt = prompt
        self.cache = cache
        self.max_items = max(1, max_items)
        self.max_chars = max(1000, max_chars)
        self.now = now
        self.fallback = FallbackSummarizer()

    @property
    def label(self) -> str:
        return f"LLM ({self.model}), checked against the records"

    def content_hash(self, brief: DisagreementBrief) -> str:
        material = "\n".join(
            (self.prompt.key, self.prompt.digest, self.model, brief.canonical_json())
        )
        return hashlib.sha256(material.encode()).hexdigest()

    def summarize(self, briefs: Sequence[DisagreementBrief], *, today: date) -> DisagreementSummary:
        briefs = list(briefs)
        hashes = {brief.ref: self.content_hash(brief) for brief in briefs}
        cached = self.cache.get_many(hashes.values()) if briefs else {}
        items: dict[str, ItemSummary] = {}
        for brief in briefs:
            stored = cached.get(hashes[brief.ref])
            if stored is not None:
                items[brief.ref] = ItemSummary(**stored)
        missing = [brief for brief in briefs if brief.ref not in items]
        usage = TokenUsage()
        try:
            for chunk in chunked(missing, max_items=self.max_items, max_chars=self.max_chars):
                chunk_items, chunk_usage = self._summarise_chunk(chunk)
                usage = usage.plus(chunk_usage)
                self.cache.put_many(
                    {hashes[item.ref]: item.as_json() for item in chunk_items},
                    model=self.model,
                    prompt_version=self.prompt.key,
                    at=self.now or datetime.now().astimezone(),
                )
                items.update({item.ref: item for item in chunk_items})
        except SummaryFailed as failure:
            log.warning("LLM summary rejected, using the deterministic summary: %s", failure)
            summary = self.fallback.summarize(briefs, today=today, reason=str(failure))
            return _with_usage(summary, usage)
        log.info(
            "LLM summary: %d record(s), %d from cache, %d call(s), %d prompt + %d completion "
            "tokens",
            len(briefs),
            len(briefs) - len(missing),
            usage.calls,
            usage.prompt_tokens,
            usage.completion_tokens,
        )
        return DisagreementSummary(
            author="llm",
            author_label=self.label,
            overview=deterministic_overview(briefs, today=today),
            items=tuple(items[brief.ref] for brief in briefs),
            usage=usage,
            cached_items=len(briefs) - len(missing),
        )

    def _summarise_chunk(
        self, chunk: list[DisagreementBrief]
    ) -> tuple[list[ItemSummary], TokenUsage]:
        system, user = self.prompt.render(count=str(len(chunk)), records=records_block(chunk))
        try:
            completion = self.client.chat.completions.parse(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                response_format=ChunkOut,
                temperature=0,
            )
        except openai.APITimeoutError as error:
            raise SummaryFailed("the LLM call timed out") from error
        except openai.APIStatusError as error:
            raise SummaryFailed(f"the LLM server answered HTTP {error.status_code}") from error
        except openai.APIConnectionError as error:
            raise SummaryFailed("the LLM server could not be reached") from error
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as error:
            raise SummaryFailed(f"the LLM answer was cut off ({type(error).__name__})") from error
        except (ValidationError, ValueError) as error:
            raise SummaryFailed(f"the LLM answer is not valid JSON for the schema: {error}") from (
                error
            )
        except openai.OpenAIError as error:
            raise SummaryFailed(f"the LLM call failed ({type(error).__name__})") from error
        usage = TokenUsage(
            calls=1,
            prompt_tokens=completion.usage.prompt_tokens if completion.usage else 0,
            completion_tokens=completion.usage.completion_tokens if completion.usage else 0,
        )
        message = completion.choices[0].message
        if message.refusal:
            raise SummaryFailed(f"the LLM refused: {message.refusal[:200]}")
        if message.parsed is None:
            raise SummaryFailed("the LLM answer is empty")
        items = [ItemSummary(**item.model_dump()) for item in message.parsed.items]
        problems = check_items(items, chunk)
        if problems:
            raise SummaryFailed("; ".join(problems[:10]))
        return items, usage


def _with_usage(summary: DisagreementSummary, usage: TokenUsage) -> DisagreementSummary:
    from dataclasses import replace

    return replace(summary, usage=usage)
