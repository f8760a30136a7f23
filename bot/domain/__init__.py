"""The domain: records, rules and services. Knows nothing of Slack, the scheduler or the LLM."""
