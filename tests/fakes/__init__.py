"""In-process HTTP fakes of Slack and OpenAI so tests exercise the bot over real HTTP."""
