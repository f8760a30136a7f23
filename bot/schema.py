"""Imports every table so SQLModel's metadata (and Alembic) sees the whole schema.

The domain's tables are registered by `bot.domain.models`; the LLM summary cache lives in
`bot.summarize`, which the domain must not import, so the two meet here.
"""

import bot.domain.models
import bot.summarize.cache  # noqa: F401
