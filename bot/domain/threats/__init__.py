"""Threat briefs: what is happening in the threat landscape, tied to the records it touches."""
