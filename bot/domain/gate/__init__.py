"""The deployment gate: what initiatives cover, gate tokens, checks and GitHub reviews.

Nothing here knows Slack or HTTP; `bot/api` and `bot/github` are its adapters.
"""
