"""Security investment: what an initiative costs, who funds it, and how far the money got.

Pure values and their one parser each (commands and forms share them). Amounts are whole
currency units; a yearly budget counts as one year's cost wherever amounts are added up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.errors import InvalidInput

MAX_AMOUNT = 10**12
_BUDGET = re.compile(
    r"^(?P<amount>\d[\d,_]*(?:\.\d+)?)\s*(?P<scale>[km])?\s*(?P<currency>[a-z]{3})"
    r"(?:\s*/\s*(?P<period>year|yr|y|once|one-off))?$",
    re.IGNORECASE,
)
BUDGET_HINT = "e.g. `budget:120000EUR/year`, `budget:80kUSD` (one-off) or `budget:1.2mGBP/once`."
FUNDING_HINT = "Use `funding:cio`, `funding:ciso` or `funding:shared:60/40` (CIO/CISO shares)."


class BudgetPeriod(StrEnum):
    ONE_OFF = "one-off"
    YEARLY = "per-year"


class FundingSide(StrEnum):
    CIO = "cio"
    CISO = "ciso"
    SHARED = "shared"


class BudgetState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    SPENT = "spent"


@dataclass(frozen=True)
class Budget:
    amount: int
    currency: str
    period: BudgetPeriod = BudgetPeriod.ONE_OFF

    def __str__(self) -> str:
        per = "/year" if self.period == BudgetPeriod.YEARLY else " one-off"
        return f"{money(self.amount, self.currency)}{per}"


@dataclass(frozen=True)
class Funding:
    side: FundingSide
    cio_share: int  # percent of the amount the CIO side pays (100, 0, or the shared split)

    def __str__(self) -> str:
        if self.side == FundingSide.SHARED:
            return f"shared {self.cio_share}/{100 - self.cio_share} (CIO/CISO)"
        return f"{self.side.value.upper()} side"

    def split(self, amount: int) -> dict[str, int]:
        cio = amount * self.cio_share // 100
        return {"cio": cio, "ciso": amount - cio}


def money(amount: int, currency: str) -> str:
    return f"{amount:,} {currency}"


def parse_budget(text: str) -> Budget:
    found = _BUDGET.match(text.strip().replace(" ", ""))
    if found is None:
        raise InvalidInput(f"`{text[:40]}` is not a budget.", hint=BUDGET_HINT, field="budget")
    scale = {"k": 1_000, "m": 1_000_000}.get((found["scale"] or "").lower(), 1)
    try:
        amount = round(float(found["amount"].replace(",", "").replace("_", "")) * scale)
    except ValueError:
        raise InvalidInput(
            f"`{text[:40]}` is not a budget.", hint=BUDGET_HINT, field="budget"
        ) from None
    if not 0 < amount <= MAX_AMOUNT:
        raise InvalidInput(
            f"A budget is more than 0 and at most {MAX_AMOUNT:,}.", hint=BUDGET_HINT, field="budget"
        )
    period = found["period"] or "once"
    return Budget(
        amount=amount,
        currency=found["currency"].upper(),
        period=BudgetPeriod.ONE_OFF
        if period.lower() in ("once", "one-off")
        else BudgetPeriod.YEARLY,
    )


def parse_funding(text: str) -> Funding:
    side, _, shares = text.strip().lower().partition(":")
    if side == FundingSide.CIO and not shares:
        return Funding(FundingSide.CIO, 100)
    if side == FundingSide.CISO and not shares:
        return Funding(FundingSide.CISO, 0)
    if side == FundingSide.SHARED:
        if not shares:
            return Funding(FundingSide.SHARED, 50)
        cio, _, ciso = shares.partition("/")
        if cio.isdecimal() and ciso.isdecimal() and int(cio) + int(ciso) == 100:
            return Funding(FundingSide.SHARED, int(cio))
        raise InvalidInput(
            f"`{text[:40]}`: the shares must be two whole percentages that add up to 100.",
            hint=FUNDING_HINT,
            field="funding",
        )
    raise InvalidInput(f"`{text[:40]}` is not a funding side.", hint=FUNDING_HINT, field="funding")


def parse_budget_state(text: str) -> BudgetState:
    try:
        return BudgetState(text.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"`{text[:40]}` is not a budget state.",
            hint="Use `money:requested`, `money:approved` or `money:spent`.",
            field="money",
        ) from None
