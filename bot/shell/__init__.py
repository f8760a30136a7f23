"""`accord shell`: a local console adapter, like Errbot's text backend or Hubot's shell."""

from bot.shell.console import run_shell

__all__ = ["run_shell"]
