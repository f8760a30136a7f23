"""The LLM summariser: any OpenAI-compatible server, structured output, checked before use.

Flow for one digest:
1. each brief gets a content hash (prompt key + template digest + model + the brief's canonical
   JSON); briefs whose hash is in `summary_cache` are not sent again;
2. the rest are sent in chunks (at most `accord_llm_chunk_max_items` briefs and about
   `accord_llm_chunk_max_chars` characters of records per call), as JSON inside <records> tags,
   up to `accord_llm_concurrency` chunks at a time;
3. each answer must parse into the schema — per record only an `overview` and a `question`;
   the sides' positions are never the LLM's, the digest quotes them from the record — and pass
   `checks.check_items` for its chunk (no claim of agreement, no stance pinned on a side, no
   id or number that is not in the record); a good answer is cached at once (even one that
   arrives after the budget, for the next digest), and a cached one is checked again on use;
4. the LLM part of one digest has an overall deadline, `accord_llm_digest_budget_seconds`:
   at the deadline Accord stops waiting, and every chunk not done by then is written by the
   deterministic summariser;
5. a chunk that fails (timeout, HTTP error, refusal, invalid JSON, failed check) is written by
   the deterministic summariser too; after a transport failure (timeout, HTTP error, server
   unreachable) no further chunks are sent — the server is probably down;
6. merge: the per-brief items are concatenated in the digest's order and the overview is
   computed deterministically from the records (counts), so the merge adds no new claims.
   The summary's author is "llm", "fallback" (nothing by the LLM) or "mixed" (`fallback_refs`
   names the items the deterministic summariser wrote); every reason is logged as one
   structured line (`event=llm_summary_fallback`, the refs, the reasons), which names ids and
   fixed labels only: no record text, no answer text, no key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import openai
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.domain.summaries import (
    DisagreementBrief,
    DisagreementSummary,
    ItemSummary,
    TokenUsage,
    deterministic_overview,
)
from bot.summarize.cache import SummaryCache
from bot.summarize.checks import check_item, check_items
from bot.summarize.fallback import FallbackSummarizer, summarise_brief
from bot.summarize.prompts import Prompt

log = logging.getLogger(__name__)


class ItemOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str
    overview: str
    question: str


class ChunkOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemOut]


class SummaryFailed(Exception):
    """The LLM's answer cannot be used; the message says why (it is logged, never posted).

    `transport` marks failures of the server rather than of one answer: no further chunk of
    the digest is sent after one."""

    def __init__(
        self, message: str, *, transport: bool = False, problems: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.transport = transport
        self.problems = tuple(problems)


@dataclass(frozen=True)
class ChunkResult:
    chunk: list[DisagreementBrief]
    items: list[ItemSummary] | None = None  # None: the chunk falls back
    usage: TokenUsage = field(default_factory=TokenUsage)
    reason: str | None = None
    problems: tuple[str, ...] = ()  # the failed checks, one by one


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
        call_timeout: float = 20.0,
        budget_seconds: float = 60.0,
        concurrency: int = 4,
    ) -> None:
        self.client = client
        self.model = model
        self.prompt = prompt
        self.cache = cache
        self.max_items = max(1, max_items)
        self.max_chars = max(1000, max_chars)
        self.now = now
        self.call_timeout = call_timeout
        self.budget_seconds = max(0.0, budget_seconds)
        self.concurrency = max(1, concurrency)
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
            stored = ItemSummary.from_json(cached.get(hashes[brief.ref]))
            if stored is not None and stored.ref == brief.ref and not check_item(stored, brief):
                items[brief.ref] = stored
        from_cache = len(items)
        missing = [brief for brief in briefs if brief.ref not in items]
        chunks = chunked(missing, max_items=self.max_items, max_chars=self.max_chars)
        results = self._run_chunks(chunks, hashes) if chunks else []
        usage = TokenUsage()
        reasons: list[str] = []
        fell_back: list[DisagreementBrief] = []
        for result in results:
            usage = usage.plus(result.usage)
            if result.items is None:
                refs = [brief.ref for brief in result.chunk]
                log.warning(
                    "LLM summary not used for %s; the deterministic summary is used: %s",
                    ", ".join(refs),
                    result.reason,
                    extra={
                        "event": "llm_summary_fallback",
                        "refs": refs,
                        "reasons": list(result.problems) or [str(result.reason)],
                        "model": self.model,
                        "prompt": self.prompt.key,
                    },
                )
                reasons.append(str(result.reason))
                fell_back.extend(result.chunk)
            else:
                items.update({item.ref: item for item in result.items})
        reason = "; ".join(dict.fromkeys(reasons)) or None
        if fell_back and len(fell_back) == len(briefs):
            log.warning("LLM summary rejected, using the deterministic summary: %s", reason)
            return replace(self.fallback.summarize(briefs, today=today, reason=reason), usage=usage)
        for brief in fell_back:
            items[brief.ref] = summarise_brief(brief, today=today)
        log.info(
            "LLM summary: %d record(s), %d from cache, %d by the deterministic summariser, "
            "%d call(s), %d prompt + %d completion tokens",
            len(briefs),
            from_cache,
            len(fell_back),
            usage.calls,
            usage.prompt_tokens,
            usage.completion_tokens,
        )
        return DisagreementSummary(
            author="mixed" if fell_back else "llm",
            author_label=self.label,
            overview=deterministic_overview(briefs, today=today),
            items=tuple(items[brief.ref] for brief in briefs),
            fallback_reason=reason,
            usage=usage,
            cached_items=from_cache,
            fallback_refs=frozenset(brief.ref for brief in fell_back),
        )

    def _run_chunks(
        self, chunks: list[list[DisagreementBrief]], hashes: dict[str, str]
    ) -> list[ChunkResult]:
        """Run the chunks on a small pool and wait for them until the budget's deadline.

        A chunk still running at the deadline keeps running in the background (an HTTP call
        cannot be interrupted; its own timeout ends it) and caches a good answer for next time,
        but this digest no longer waits for it."""
        deadline = time.monotonic() + self.budget_seconds
        stop = threading.Event()
        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(chunks)), thread_name_prefix="accord-llm"
        )
        futures: list[Future[ChunkResult]] = [
            pool.submit(self._chunk_job, chunk, hashes, deadline, stop) for chunk in chunks
        ]
        wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        stop.set()  # chunks not started by now are not sent at all
        pool.shutdown(wait=False, cancel_futures=True)
        late = (
            f"the digest's LLM time budget ({self.budget_seconds:g} s, "
            "ACCORD_LLM_DIGEST_BUDGET_SECONDS) ran out"
        )
        results = []
        for chunk, future in zip(chunks, futures, strict=True):
            if future.done() and not future.cancelled():
                results.append(future.result())
            else:
                results.append(ChunkResult(chunk=chunk, reason=late))
        return results

    def _chunk_job(
        self,
        chunk: list[DisagreementBrief],
        hashes: dict[str, str],
        deadline: float,
        stop: threading.Event,
    ) -> ChunkResult:
        """One chunk, on a pool thread; never raises (a failure is a ChunkResult's reason)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return ChunkResult(chunk=chunk, reason="not sent: the LLM time budget ran out")
        if stop.is_set():
            return ChunkResult(
                chunk=chunk,
                reason="not sent: an earlier LLM call failed or the time budget ran out",
            )
        try:
            items, usage = self._summarise_chunk(chunk, timeout=min(self.call_timeout, remaining))
        except SummaryFailed as failure:
            if failure.transport:
                stop.set()
            return ChunkResult(chunk=chunk, reason=str(failure), problems=failure.problems)
        except Exception as error:  # a bug must not lose the digest; it is logged
            log.exception("LLM chunk failed unexpectedly")
            return ChunkResult(chunk=chunk, reason=f"unexpected error ({type(error).__name__})")
        try:
            self.cache.put_many(
                {hashes[item.ref]: item.as_json() for item in items},
                model=self.model,
                prompt_version=self.prompt.key,
                at=self.now or datetime.now().astimezone(),
            )
        except Exception:
            log.exception("could not cache an LLM summary; it is used but not kept")
        if time.monotonic() > deadline:
            log.info(
                "a late LLM answer for %d record(s) was cached for the next digest", len(items)
            )
        return ChunkResult(chunk=chunk, items=items, usage=usage)

    def _summarise_chunk(
        self, chunk: list[DisagreementBrief], *, timeout: float
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
                timeout=timeout,
            )
        except openai.APITimeoutError as error:
            raise SummaryFailed("the LLM call timed out", transport=True) from error
        except openai.APIStatusError as error:
            raise SummaryFailed(
                f"the LLM server answered HTTP {error.status_code}", transport=True
            ) from error
        except openai.APIConnectionError as error:
            raise SummaryFailed("the LLM server could not be reached", transport=True) from error
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as error:
            raise SummaryFailed(f"the LLM answer was cut off ({type(error).__name__})") from error
        except ValidationError as error:
            # (pydantic's message quotes the answer, which may quote the records: counts only)
            raise SummaryFailed(
                f"the LLM answer is not valid JSON for the schema ({error.error_count()} error(s))"
            ) from error
        except ValueError as error:
            raise SummaryFailed(
                f"the LLM answer is not valid JSON for the schema ({type(error).__name__})"
            ) from error
        except openai.OpenAIError as error:
            raise SummaryFailed(f"the LLM call failed ({type(error).__name__})") from error
        usage = TokenUsage(
            calls=1,
            prompt_tokens=completion.usage.prompt_tokens if completion.usage else 0,
            completion_tokens=completion.usage.completion_tokens if completion.usage else 0,
        )
        message = completion.choices[0].message
        if message.refusal:
            raise SummaryFailed("the LLM refused to answer")
        if message.parsed is None:
            raise SummaryFailed("the LLM answer is empty")
        items = [ItemSummary(**item.model_dump()) for item in message.parsed.items]
        problems = check_items(items, chunk)
        if problems:
            raise SummaryFailed("; ".join(problems[:10]), problems=problems)
        return items, usage
