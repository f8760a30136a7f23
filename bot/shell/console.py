"""The shell's read–eval–print loop: signed requests into the real bolt app, replies printed."""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import re
import secrets
import shlex
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from sqlmodel import select

from bot.bootstrap import build_services, build_web_client
from bot.clock import as_utc
from bot.config import Settings
from bot.db import session_scope
from bot.domain.touchpoints import SeriesStatus, TouchpointSeries
from bot.services import Services
from bot.shell.demo import DEMO_CHANNELS, DEMO_ENVIRONMENT, DEMO_USERS, DemoUser, by_name
from bot.shell.local_slack import LocalSlack
from bot.shell.render import Clickable, mrkdwn, render_blocks
from bot.slack.app import build_app
from bot.slack.deliver import Deliverer
from bot.slack.notifier import SlackNotifier
from bot.slack.text import escape
from bot.slack.workspace import SlackWorkspace

BANNER = """Accord shell — type /accord commands as a demo user. No Slack and no LLM needed.
  :as @bob      act as another person        :who     the demo people and their sides
  :click N      press button N               :home    show your App Home tab
  :submit a=b   fill in and send the open form  :cancel  close the form
  :clock        run every scheduled job now   :quit    leave (or Ctrl-D)
  :clock +7d    move the shell's clock on (+3h, +30m) and run the jobs as they fall due
  :reply N text reply in the thread of message N (e.g. `decision: …` under an agenda)
Start with:  /accord help"""

#: `:clock +7d` walks time in steps of at most this, running each job that falls due.
CLOCK_STEP = timedelta(hours=1)
#: The furthest one `:clock` jump goes.
CLOCK_MAX = timedelta(days=400)
_JUMP = re.compile(r"^\+(\d{1,4})\s*([dhm])$")


class ShellClock:
    """The real time plus an offset that `:clock +N` moves forward (for this shell only)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            self._offset = moment - datetime.now(UTC)


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
        self.clock = ShellClock()
        self.services: Services = build_services(settings, groups=_NoGroups(), clock=self.clock)
        # The same Workspace as in production, over HTTP to the local stand-in: profile time
        # zones, channel membership and file uploads (saved under ./exports).
        self.services.workspace = SlackWorkspace(self.client)
        # The same outbox as production, drained after every line so what a command causes
        # is shown right after its answer.
        self.deliverer = Deliverer(self.services, self.client)
        self.services.outbound = self.deliverer
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
        self._held: list[tuple[str, dict[str, Any]]] | None = None
        self.open_view: dict[str, Any] | None = None
        #: Messages posted in channels and DMs, numbered from 1 for `:reply N`.
        self.messages: list[dict[str, Any]] = []

    def close(self) -> None:
        self.local.stop()

    # -- output -------------------------------------------------------------------------------
    def _show(self, kind: str, body: dict[str, Any]) -> None:
        if self._held is not None and (kind == "response_url" or self._held):
            # Slack shows the ack before later responses; what follows a held response
            # (a channel post between "Building…" and "Posted") keeps its place after it.
            self._held.append((kind, body))
            return
        if kind == "file":
            self._print(f"📎 file saved: {body['path']} ({body['bytes']} bytes)")
            return
        number = ""
        if kind == "chat.postMessage" and body.get("ts"):
            self.messages.append(body)
            number = f"[msg {len(self.messages)}] "
        where = {
            "chat.postMessage": f"{number}message in {self._place(str(body.get('channel', '')))}"
            + (" (thread)" if body.get("thread_ts") else ""),
            "chat.update": f"message updated in {self._place(str(body.get('channel', '')))}",
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
        if kind in ("views.open", "views.push", "views.update") and view is not None:
            self.open_view = view
            lines.append('Fill it in with  :submit field=value field="more words" …  (or :cancel)')
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
        if channel.startswith("D"):
            channel = channel[1:]
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
        elif line.startswith(":submit"):
            self._submit(line[7:].strip())
        elif line == ":cancel":
            self.open_view = None
            self._print("Form closed.")
        elif line == ":clock":
            self._run_clock()
        elif line.startswith(":clock"):
            self._jump(line[6:].strip())
        elif line.startswith(":reply"):
            self._reply(line[6:].strip())
        elif line in (":help", "help", "?"):
            self._print(BANNER)
        elif line.startswith(("/accord", "accord")):
            self._command(line.split(None, 1)[1] if " " in line else "")
        else:
            self._print("Type a command such as `/accord help`, or `:help` for the shell's own.")
        self.deliverer.drain()
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
        self._held = []
        try:
            response = self.app.dispatch(self._signed(body, "application/x-www-form-urlencoded"))
        finally:
            held, self._held = self._held, None
        if response.body:
            self._show("response_url", json.loads(response.body))
        for kind, later in held:
            self._show(kind, later)

    def _click(self, number: str) -> None:
        if not number.isdigit() or not 1 <= int(number) <= len(self.clickables):
            self._print(f"There is no button {number!r}; buttons are shown as [N: label].")
            return
        button = self.clickables[int(number) - 1]
        # A button on a posted message carries that message's channel and ts, as in Slack.
        posted = "ts" in button.source and "channel" in button.source
        channel = str(button.source["channel"]) if posted else self.channel
        if channel.startswith("U"):
            channel = "D" + channel  # a DM with the bot
        message_ts = str(button.source["ts"]) if posted else "1700000000.000001"
        ephemeral = not posted
        payload = {
            "type": "block_actions",
            "user": {"id": self.user.user_id, "username": self.user.name, "team_id": "T0DEMO"},
            "team": {"id": "T0DEMO", "domain": "demo"},
            "api_app_id": "A0ACCORD",
            "trigger_id": self._next("trigger"),
            "channel": {"id": channel, "name": DEMO_CHANNELS.get(channel, channel)},
            "container": {
                "type": "message",
                "channel_id": channel,
                "message_ts": message_ts,
                "is_ephemeral": ephemeral,
            },
            "message": {"ts": message_ts, "text": "", "blocks": button.source.get("blocks", [])},
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

    def _submit(self, text: str) -> None:
        """Submit the open form the way Slack does, from `field=value` pairs."""
        if self.open_view is None:
            self._print("No form is open.")
            return
        try:
            given = dict(part.split("=", 1) for part in shlex.split(text) if "=" in part)
        except ValueError as error:
            self._print(f"Could not read that: {error}")
            return
        view = self.open_view
        fields = [
            str(block["block_id"])
            for block in view.get("blocks", [])
            if block.get("type") == "input" and block.get("block_id")
        ]
        unknown = [name for name in given if name not in fields]
        if unknown:
            self._print(
                f"│ ✗ this form has no {', '.join(unknown)}; its fields are {', '.join(fields)}. "
                "The form is still open."
            )
            return
        try:
            values = {
                str(block["block_id"]): {
                    str(block["element"].get("action_id", "value")): _element_state(
                        block["element"], given.get(str(block["block_id"])), str(block["block_id"])
                    )
                }
                for block in view.get("blocks", [])
                if block.get("type") == "input" and block.get("block_id")
            }
        except ValueError as error:
            self._print(f"│ ✗ {error}; the form is still open.")
            return
        payload = {
            "type": "view_submission",
            "team": {"id": "T0DEMO", "domain": "demo"},
            "user": {"id": self.user.user_id, "username": self.user.name, "team_id": "T0DEMO"},
            "api_app_id": "A0ACCORD",
            "trigger_id": self._next("trigger"),
            "view": {
                "id": self._next("V"),
                "type": "modal",
                "callback_id": view.get("callback_id"),
                "private_metadata": view.get("private_metadata", ""),
                "blocks": view.get("blocks", []),
                "state": {"values": values},
                "hash": self._next("h"),
            },
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        response = self.app.dispatch(self._signed(body, "application/x-www-form-urlencoded"))
        answer = json.loads(response.body) if response.body else {}
        if answer.get("response_action") == "errors":
            for field, message in answer.get("errors", {}).items():
                self._print(f"│ ✗ {field}: {mrkdwn(str(message))}")
            return
        self.open_view = None
        self._print("Form submitted.")

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

    def _jump(self, text: str) -> None:
        """Move the clock forward in steps of at most an hour; at each step run the jobs whose
        trigger fell due in it (interval jobs every step, cron jobs at their times), and
        deliver what they queued, so a week's reminders, agendas and expiries happen in order."""
        from apscheduler.triggers.interval import IntervalTrigger

        from bot.scheduler.registry import JOBS

        match = _JUMP.match(text.replace(" ", ""))
        unit = {"d": "days", "h": "hours", "m": "minutes"}
        delta = timedelta(**{unit[match.group(2)]: int(match.group(1))}) if match else None
        if delta is None or not timedelta(0) < delta <= CLOCK_MAX:
            self._print("Move the clock on with e.g. `:clock +7d`, `:clock +3h` or `:clock +30m`.")
            return
        notifier = SlackNotifier(self.client)
        triggers = [(job, job.trigger(self.services.settings)) for job in JOBS]
        failed: set[str] = set()

        def run_jobs(since: datetime, now: datetime) -> int:
            ran = 0
            for job, trigger in triggers:
                if not isinstance(trigger, IntervalTrigger):
                    fire = trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
                    if fire is None or fire > now:
                        continue
                try:
                    job.run(self.services, notifier, now)
                    ran += 1
                except Exception as error:  # a demo should show the failure, not stop
                    if job.id not in failed:
                        self._print(f"{job.id} failed: {error}")
                    failed.add(job.id)
            self.deliverer.drain()
            return ran

        start = self.clock.now()
        end = start + delta
        # What is due already (the clock process would have done it by now), then each step.
        runs = run_jobs(start, start)
        moment = start
        while moment < end:
            # Stop at the next agenda time too, so an agenda is posted on time, not late.
            step_end = min([moment + CLOCK_STEP, end, *self._agenda_times(moment, end)])
            self.clock.advance_to(step_end)
            runs += run_jobs(moment, step_end)
            moment = step_end
        self._print(
            f"⏱ The shell's clock is now {end:%a %d %b %Y %H:%M} UTC ({text}); the scheduled "
            f"jobs ran as they fell due on the way ({runs} runs)."
        )

    def _agenda_times(self, after: datetime, until: datetime) -> list[datetime]:
        """When the next agendas fall due in (after, until]: where `:clock` steps stop."""
        with session_scope(self.services.engine) as session:
            rows = session.exec(
                select(TouchpointSeries).where(TouchpointSeries.status == SeriesStatus.ACTIVE)
            ).all()
            dues = [
                as_utc(series.next_start) - series.lead
                for series in rows
                if series.next_start is not None
            ]
        return [due + timedelta(seconds=1) for due in dues if after < due < until]

    def _reply(self, text: str) -> None:
        """A person's reply in the thread of message N, as Slack's `message` event."""
        number, _, words = text.partition(" ")
        if not number.isdigit() or not 1 <= int(number) <= len(self.messages) or not words:
            self._print("Reply with `:reply N text`, N being a message number shown as [msg N].")
            return
        parent = self.messages[int(number) - 1]
        channel = str(parent.get("channel", ""))
        if channel.startswith("U"):
            channel = "D" + channel  # a DM with the bot
        thread_ts = str(parent.get("thread_ts") or parent["ts"])
        ts = self.local.next_ts()
        self._print(
            "\n".join(
                [f"┌─ your reply in {self._place(channel)} (thread of [msg {number}])"]
                + [f"│ {line}" for line in words.replace("\\n", "\n").split("\n")]
            )
        )
        self._event(
            {
                "type": "message",
                "channel": channel,
                "channel_type": "im" if channel.startswith("D") else "channel",
                "user": self.user.user_id,
                "text": self._as_slack_text(words.replace("\\n", "\n")),
                "ts": ts,
                "thread_ts": thread_ts,
                "client_msg_id": self._next("msg"),
            }
        )


def _element_state(element: dict[str, Any], raw: str | None, field: str = "") -> dict[str, Any]:
    """The `state.values` entry Slack would send for one input element.

    A value no box of a checkbox field carries is refused (ValueError) rather than read as
    "not ticked", so a person never submits a form that silently ignores what they typed."""
    kind = str(element.get("type"))
    state: dict[str, Any] = {"type": kind}
    if kind == "users_select":
        user = by_name(raw) if raw else None
        state["selected_user"] = user.user_id if user else element.get("initial_user")
    elif kind == "multi_users_select":
        names = [by_name(name) for name in (raw or "").split(",") if name.strip()]
        chosen = [u.user_id for u in names if u] if raw else element.get("initial_users", [])
        state["selected_users"] = chosen
    elif kind == "datepicker":
        state["selected_date"] = raw or element.get("initial_date")
    elif kind == "timepicker":
        state["selected_time"] = raw or element.get("initial_time")
    elif kind in ("static_select", "radio_buttons"):
        options = {str(o.get("value")): o for o in element.get("options", [])}
        state["selected_option"] = options.get(raw or "") or element.get("initial_option")
    elif kind == "multi_external_select":
        # The shell has no options load: the values are typed (e.g. T1078,T1566).
        picked = [part.strip().upper() for part in (raw or "").split(",") if part.strip()]
        state["selected_options"] = [
            {"value": value, "text": {"type": "plain_text", "text": value}} for value in picked
        ]
    elif kind == "checkboxes":
        options = element.get("options", [])
        if raw is None:
            state["selected_options"] = element.get("initial_options", [])
        else:
            # The options' own values (as Slack sends them), or yes/no for a single box.
            wanted = {part.strip() for part in raw.split(",") if part.strip()}
            chosen = [o for o in options if str(o.get("value")) in wanted]
            answer = raw.strip().lower()
            if not chosen and answer in ("yes", "y", "true", "1", "on"):
                chosen = options[:1]
            elif not chosen and answer not in ("", "no", "n", "false", "0", "off"):
                allowed = (
                    "yes|no"
                    if len(options) == 1
                    else "|".join(str(o.get("value")) for o in options)
                )
                raise ValueError(f"{field}: `{raw}` is not one of {allowed}")
            state["selected_options"] = chosen
    elif kind in ("conversations_select", "channels_select"):
        name = (raw or "").lstrip("#")
        found = next((cid for cid, cname in DEMO_CHANNELS.items() if cname == name), None)
        state["selected_conversation" if kind == "conversations_select" else "selected_channel"] = (
            found or element.get("initial_conversation") or element.get("initial_channel")
        )
    else:
        state["value"] = raw if raw is not None else element.get("initial_value")
    return state


class _NoGroups:
    """The demo directory lists people directly, so there are no user groups to resolve."""

    def members(self, group_id: str) -> list[str]:
        return []


def _line_editing(history: Path) -> None:
    """Arrow keys, editing and a history kept between sessions for `input()` (where the
    platform has readline)."""
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline
        return
    readline.set_history_length(1000)
    if history.exists():
        readline.read_history_file(history)
    atexit.register(readline.write_history_file, history)


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
    if interactive:
        _line_editing(Path("accord-shell.history"))
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
