"""The Slack adapter: bolt app, listeners, Block Kit renderers and the notifier."""
