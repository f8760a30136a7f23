"""The shell's read–eval–print loop: signed requests into the real bolt app, replies printed."""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, TextIO

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.bootstrap import build_services, build_web_client
from bot.config import Settings
from bot.services import Services
from bot.shell.demo import DEMO_CHANNELS, DEMO_ENVIRONMENT, DEMO_USERS, DemoUser, by_name
from bot.shell.local_slack import LocalSlack
from bot.shell.render import Clickable, render_blocks
from bot.slack.app import build_app
from bot.slack.notifier import SlackNotifier
from bot.slack.text import escape

BANNER = """Accord shell — type /accord commands as a demo user. No Slack and no LLM needed.
  :as @bob      act as another person        :who     the demo people and their sides
  :click N      press button N               :home    show your App Home tab
  :clock        run every scheduled job now   :quit    leave (or Ctrl-D)
Start with:  /accord help"""


class Shell:
    def __init__(self, *, database: Path, out: TextIO) -> None:
        self.out = out
        self._print_lock = threading.Lock()
        self.local = LocalSlack(self._show, files_dir=Path("exports"))
        self.local.start()
        self.secret = secrets.token_hex(16)
        values: dict[str, Any] = {key.lower(): value for key, value in DEMO_ENVIRONMENT.items()}
        values.update(
            database_url=f"sqlite:///{database.resolve()}",
            slack_bot_token="xoxb-accord-shell",  # noqa: S106  (the local stand-in's token)
            slack_signing_secret=self.secret,
            slack_api_base_url=self.local.base_url,
        )
        settings = Settings(**values)
        self.client = build_web_client(settings)
        self.services: Services = build_services(settings, groups=_NoGroups())
        self.app: App = build_app(
            self.services,
            client=self.client,
            signing_secret=self.secret,
            process_before_response=True,
        )
        self.user: DemoUser = DEMO_USERS[0]
        self.channel = "C0COORD"
        self.clickables: list[Clickable] = []
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.local.stop()

    # -- output -------------------------------------------------------------------------------
    def _show(self, kind: str, body: dict[str, Any]) -> None:
        if kind == "file":
            self._print(f"📎 file saved: {body['path']} ({body['bytes']} bytes)")
            return
        where = {
            "chat.postMessage": f"message in {self._place(str(body.get('channel', '')))}"
            + (" (thread)" if body.get("thread_ts") else ""),
            "chat.postEphemeral": f"only visible to {self._person(str(body.get('user', '')))}",
            "response_url": "reply (only visible to you)",
            "views.open": "form opened",
            "views.push": "form opened",
            "views.update": "form updated",
            "views.publish": f"App Home of {self._person(str(body.get('user_id', '')))}",
        }.get(kind, kind)
        view = body.get("view") if isinstance(body.get("view"), dict) else None
        blocks = (view or body).get("blocks") or []
        title = (view or {}).get("title", {}).get("text") if view else None
        lines = render_blocks(blocks, clickables=self.clickables, source=body) if blocks else []
        if not lines and body.get("text"):
            lines = [str(body["text"])]
        heading = f"┌─ {where}" + (f": {title}" if title else "")
        if kind.startswith("views.open"):
            lines.append(
                "(Forms are filled in Slack; here, use the command's inline form, "
                "e.g. `/accord initiative new <title> …`.)"
            )
        self._print("\n".join([heading, *(f"│ {line}" for line in "\n".join(lines).split("\n"))]))

    def _print(self, text: str) -> None:
        with self._print_lock:
            print(text, file=self.out, flush=True)

    def _person(self, user_id: str) -> str:
        user = next((u for u in DEMO_USERS if u.user_id == user_id), None)
        return f"@{user.name}" if user else user_id

    def _place(self, channel: str) -> str:
        if channel in DEMO_CHANNELS:
            return f"#{DEMO_CHANNELS[channel]}"
        return f"DM with {self._person(channel)}" if channel.startswith("U") else channel

    # -- input --------------------------------------------------------------------------------
    def handle(self, line: str) -> bool:
        """Run one line; False when the person wants to leave."""
        line = line.strip()
        if not line or line.startswith("//"):
            return True
        if line in (":quit", ":q", ":exit"):
            return False
        if line.startswith(":as"):
            self._switch(line[3:].strip())
        elif line == ":who":
            self._who()
        elif line.startswith(":click"):
            self._click(line[6:].strip())
        elif line == ":home":
            self._event({"type": "app_home_opened", "user": self.user.user_id, "tab": "home"})
        elif line == ":clock":
            self._run_clock()
        elif line in (":help", "help", "?"):
            self._print(BANNER)
        elif line.startswith(("/accord", "accord")):
            self._command(line.split(None, 1)[1] if " " in line else "")
        else:
            self._print("Type a command such as `/accord help`, or `:help` for the shell's own.")
        return True

    def _switch(self, name: str) -> None:
        user = by_name(name)
        if user is None:
            self._print(f"No demo person {name!r}; `:who` lists them.")
            return
        self.user = user
        self._print(f"You are now @{user.name} — {user.title}.")

    def _who(self) -> None:
        for user in DEMO_USERS:
            marker = "→" if user == self.user else " "
            self._print(f" {marker} @{user.name:<6} {user.title} ({user.tz})")

    def _as_slack_text(self, text: str) -> str:
        """What Slack sends with `should_escape`: entities escaped, mentions as markup."""
        text = escape(text)

        def mention(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.lower() in ("channel", "here", "everyone"):
                return f"<!{name.lower()}>"
            user = by_name(name)
            return f"<@{user.user_id}|{user.name}>" if user else match.group(0)

        text = re.sub(r"(?<![\w<])@([A-Za-z0-9._-]+)", mention, text)
        for channel_id, name in DEMO_CHANNELS.items():
            text = re.sub(rf"(?<![\w<])#{re.escape(name)}\b", f"<#{channel_id}|{name}>", text)
        return text

    def _signed(self, body: str, content_type: str) -> BoltRequest:
        timestamp = str(int(time.time()))
        signature = SignatureVerifier(self.secret).generate_signature(
            timestamp=timestamp, body=body
        )
        return BoltRequest(
            body=body,
            headers={
                "content-type": content_type,
                "x-slack-request-timestamp": timestamp,
                "x-slack-signature": signature or "",
            },
        )

    def _next(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}.{secrets.token_hex(4)}"

    def _command(self, text: str) -> None:
        body = urllib.parse.urlencode(
            {
                "token": "shell",
                "team_id": "T0DEMO",
                "team_domain": "demo",
                "channel_id": self.channel,
                "channel_name": DEMO_CHANNELS[self.channel],
                "user_id": self.user.user_id,
                "user_name": self.user.name,
                "command": "/accord",
                "text": self._as_slack_text(text),
                "api_app_id": "A0ACCORD",
                "response_url": self.local.response_url("command"),
                "trigger_id": self._next("trigger"),
            }
        )
        response = self.app.dispatch(self._signed(body, "application/x-www-form-urlencoded"))
        if response.body:
            payload = json.loads(response.body)
            self._show("response_url", payload)

    def _click(self, number: str) -> None:
        if not number.isdigit() or not 1 <= int(number) <= len(self.clickables):
            self._print(f"There is no button {number!r}; buttons are shown as [N: label].")
            return
        button = self.clickables[int(number) - 1]
        payload = {
            "type": "block_actions",
            "user": {"id": self.user.user_id, "username": self.user.name, "team_id": "T0DEMO"},
            "team": {"id": "T0DEMO", "domain": "demo"},
            "api_app_id": "A0ACCORD",
            "trigger_id": self._next("trigger"),
            "channel": {"id": self.channel, "name": DEMO_CHANNELS[self.channel]},
            "container": {"type": "message", "channel_id": self.channel, "is_ephemeral": True},
            "message": {"ts": "1700000000.000001", "text": "", "blocks": []},
            "response_url": self.local.response_url("action"),
            "actions": [
                {
                    "type": "button",
                    "action_id": button.action_id,
                    "block_id": button.block_id,
                    "value": button.value,
                    "action_ts": f"{time.time():.6f}",
                    "text": {"type": "plain_text", "text": button.label},
                }
            ],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        self.app.dispatch(self._signed(body, "application/x-www-form-urlencoded"))

    def _event(self, event: dict[str, Any]) -> None:
        body = json.dumps(
            {
                "token": "shell",
                "team_id": "T0DEMO",
                "api_app_id": "A0ACCORD",
                "type": "event_callback",
                "event": event,
                "event_id": self._next("Ev"),
                "event_time": int(time.time()),
            }
        )
        self.app.dispatch(self._signed(body, "application/json"))

    def _run_clock(self) -> None:
        from bot.scheduler.registry import JOBS

        notifier = SlackNotifier(self.client)
        for job in JOBS:
            try:
                job.run(self.services, notifier, self.services.clock.now())
                self._print(f"ran {job.id}")
            except Exception as error:  # a demo should show the failure, not stop
                self._print(f"{job.id} failed: {error}")


class _NoGroups:
    """The demo directory lists people directly, so there are no user groups to resolve."""

    def members(self, group_id: str) -> list[str]:
        return []


def run_shell(
    *,
    database: Path | None,
    interactive: bool,
    source: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> None:
    logging.basicConfig(
        filename="accord-shell.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    shell = Shell(database=database or Path("accord-shell.db"), out=out)
    try:
        shell._print(BANNER)
        shell._who()
        while True:
            prompt = f"@{shell.user.name} #{DEMO_CHANNELS[shell.channel]}> "
            if interactive:
                try:
                    line = input(prompt)
                except EOFError:
                    break
            else:
                line = source.readline()
                if not line:
                    break
                shell._print(prompt + line.rstrip("\n"))
            if not shell.handle(line):
                break
    finally:
        shell.close()
