"""Faithfulness checks on what the LLM wrote (an overview and a question per disagreement),
run before anything is posted.

The LLM never writes a side's position (the digest quotes each side from the record), so the
checks hold its text to what it may say: which disagreement it is about and what is to be
decided. They refuse

- an item for a record that is not open, a record summarised twice or left out;
- mention or link markup (`<!channel>`, `<@U1>`, `@here`, `<https://…|…>`);
- an id (`INI-4`, `ESC-2`, …) that is not the record's own, its linked record or its
  escalation, and a number that appears nowhere in the record (no invented CVE, host count,
  date or amount);
- a claim that the sides agree, concur, have reached a compromise or no longer disagree
  (the record is an open disagreement), unless it is the name of a thing in the record's
  subject, options or question ("the data processing agreement");
- any stance attributed to a side ("Security agrees to ship now", "the CIO wants…", "as
  proposed by the CISO side"): the sides speak for themselves in the digest.

The last two are patterns, not understanding: they fail closed — text that merely sounds like
an attribution is refused too, and the deterministic summary is used. Every reason names ids,
fields and fixed labels only, never the record's or the answer's text, so it can be logged.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from bot.domain.summaries import DisagreementBrief, ItemSummary

OVERVIEW_LIMIT = 600
QUESTION_LIMIT = 300
_REF = re.compile(r"\b(?:INI|RSK|DIS|ESC|TP|A)-\d{1,9}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
# Slack markup that pings or links (<!channel>, <@U1>, <#C1>, <!subteam^S1>, <http…|…>), the
# plain-word broadcasts, and their HTML-escaped forms.
_INJECTION = re.compile(
    r"<\s*[!@#]|&lt;\s*[!@#]|<\s*(?:https?|mailto):|@(?:channel|here|everyone)\b",
    re.IGNORECASE,
)

_NEGATION = r"(?:\bnot|\bno|n't|\bnever|\bnor|\bwithout|\byet to|\black of|\bfailed to)"
_AGREEMENT = re.compile(
    r"\b(?:agree(?:s|d|ing|ment|ments)?|consensus|concur\w*|common ground|compromise reached"
    r"|reached (?:a |an )?(?:compromise|deal|settlement)|same page|eye to eye"
    r"|no longer (?:disagree|object|oppose|dispute)\w*|(?:are|is|now|fully) aligned"
    r"|in alignment|settled on|both (?:sides )?(?:accept|support|want|back|favou?r)\w*)\b",
    re.IGNORECASE,
)

# Who a stance could be pinned on: one side (CIO, CISO and IT only as capitals: "it" is a
# pronoun), or both at once ("the sides", for whom only "agree" is not a stance of its own:
# "the sides do not agree" is true of every open disagreement, "both sides agree" is caught as
# a claim of agreement).
_POSSESSIVE = r"(?:['’]s?)?"
_ONE_SIDE = (
    r"(?:\b(?:CIO|CISO|Cio|Ciso|cio|ciso|IT|CTO|[Ii]nfo[Ss]ec|[Ss]ecurity|[Bb]usiness)"
    rf"{_POSSESSIVE}(?:\s+(?:side|team|org|organi[sz]ation|office|function|department"
    rf"|leadership|people|camp)s?{_POSSESSIVE})?"
    rf"|\b(?:[Ee]ither|[Nn]either|[Ee]ach|[Oo]ne|[Oo]ther|[Tt]he other)\s+side{_POSSESSIVE})"
)
_BOTH_SIDES = rf"(?:\b(?:[Bb]oth|[Tt]he|[Tt]wo)\s+sides{_POSSESSIVE})"
_SIDE = rf"(?:{_ONE_SIDE}|{_BOTH_SIDES})"
_STANCE = (
    r"(?:wants?|wanted|argu(?:es?|ed|ing)|insist(?:s|ed)?|propos(?:es?|ed|al)|prefer(?:s|red"
    r"|ence)?|support(?:s|ed)?|accept(?:s|ed)?|agree(?:s|d)?|oppos(?:es?|ed)|object(?:s|ed"
    r"|ion)?|refus(?:es?|ed)|reject(?:s|ed)?|demand(?:s|ed)?|asks?|asked|request(?:s|ed)?|says?"
    r"|said|claim(?:s|ed)?|believ(?:es?|ed)|thinks?|thought|favou?r(?:s|ed)?|recommend(?:s|ed)?"
    r"|urg(?:es?|ed)|backs?|backed|endors(?:es?|ed)|approv(?:es?|ed)|conced(?:es?|ed)|plans?"
    r"|intends?|needs?|expects?|maintains?|warns?|fears?|worr(?:y|ies|ied)|contends?|asserts?"
    r"|suggests?|advocates?|calls? for|push(?:es)? for|sides? with|goes along|positions?|stances?"
    r"|views?|concerns?|argument|wish(?:es)?|(?:is|are|was|were) (?:willing|ready|happy|fine"
    r"|content|ok|okay|comfortable|prepared|open|against|for|in favou?r)"
    r"|would (?:rather|like|prefer|accept|ship|allow|wait)"
    r"|will (?:accept|ship|allow|wait|block|approve|agree))"
)
_AGREE = r"(?:agree(?:s|d)?)"
_GAP = rf"[\s,:;]+(?:(?!{_SIDE})[\w’'-]+[\s,]+){{0,3}}?"
_ATTRIBUTION = re.compile(
    rf"{_ONE_SIDE}{_GAP}{_STANCE}\b"
    rf"|{_BOTH_SIDES}{_GAP}(?!{_AGREE}\b){_STANCE}\b"
    rf"|(?i:\b(?:according to|in the (?:view|words|opinion) of|per))\s+(?:the\s+)?{_SIDE}"
    rf"|\b(?:\w+ed)\s+by\s+(?:the\s+)?{_SIDE}"
    rf"|{_SIDE}\s*:",
)


def check_items(items: Sequence[ItemSummary], briefs: Sequence[DisagreementBrief]) -> list[str]:
    """Check the items an LLM wrote for exactly these (open) briefs; the reasons it fails."""
    problems: list[str] = []
    by_ref = {brief.ref: brief for brief in briefs}
    counts = Counter(item.ref for item in items)
    for ref, seen in counts.items():
        if ref not in by_ref:
            shown = ref if _REF.fullmatch(ref) else "an unknown id"
            problems.append(f"cites {shown}, which is not an open disagreement in the records")
        elif seen > 1:
            problems.append(f"summarises {ref} {seen} times")
    for ref in by_ref:
        if ref not in counts:
            problems.append(f"omits open disagreement {ref}")
    for item in items:
        brief = by_ref.get(item.ref)
        if brief is not None:
            problems.extend(check_item(item, brief))
    return problems


def check_item(item: ItemSummary, brief: DisagreementBrief) -> list[str]:
    """The reasons one item may not be shown for this brief (empty: it passes)."""
    problems: list[str] = []
    record = brief.record_text()
    numbers = {int(n) for n in _NUMBER.findall(_REF.sub(" ", record))}
    topic = " ".join(" ".join((brief.subject, brief.question, *brief.options)).lower().split())
    limits = {"overview": OVERVIEW_LIMIT, "question": QUESTION_LIMIT}
    for name, text in (("overview", item.overview), ("question", item.question)):
        where = f"{item.ref}: the {name}"
        if not text.strip():
            problems.append(f"{where} is empty")
            continue
        if len(text) > limits[name]:
            problems.append(f"{where} is {len(text)} characters (limit {limits[name]})")
        if _INJECTION.search(text):
            problems.append(f"{where} contains a mention or link markup")
        for cited in _REF.findall(text):
            if cited.upper() not in brief.known_refs():
                problems.append(f"{where} mentions {cited.upper()}, which is not in its record")
        for number in dict.fromkeys(_NUMBER.findall(_REF.sub(" ", text))):
            if int(number) not in numbers:
                problems.append(f"{where} has the number {number}, which is not in its record")
        if _claims_agreement(text, topic):
            problems.append(f"{where} claims the sides agree (the record is a disagreement)")
        if _ATTRIBUTION.search(text):
            problems.append(
                f"{where} attributes a stance to a side (positions are quoted from the record)"
            )
    if item.question.strip() and not item.question.rstrip().endswith("?"):
        problems.append(f"{item.ref}: the question is not a question")
    return problems


_NOT_A_NAME = re.compile(
    r"\b(?:in|into|an|reach\w*|found|find\w*|full|broad|general|mutual|total|complete|some"
    r"|partial|their|no|any|on)\s*$",
    re.IGNORECASE,
)


def _claims_agreement(text: str, topic: str) -> bool:
    """An agreement word that is neither negated ("do not agree") nor the name of a thing in
    the record's subject, options or question ("the data processing agreement"). Positions do
    not count: a side cannot make a claim of agreement pass by writing it into its own."""
    for match in _AGREEMENT.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()]
        if re.search(rf"{_NEGATION}\W+(?:\w+\W+)?$", before, re.IGNORECASE):
            continue
        word = match.group(0).lower()
        if word in ("agreement", "agreements") and not _NOT_A_NAME.search(before):
            name = " ".join([*before.lower().split()[-2:], word])
            if len(name.split()) == 3 and name in topic:
                continue
        return True
    return False
