"""A loopback stand-in for Slack's Web API and response URLs, for the shell.

The bot talks to it over real HTTP exactly as it talks to Slack, so the shell runs the same
client, listeners and services; everything Slack would show is handed to `on_output`.
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bot.shell.demo import CHANNELS_WITHOUT_ACCORD, DEMO_CHANNELS, DEMO_USERS, by_id

Output = Callable[[str, dict[str, Any]], None]


class LocalSlack:
    def __init__(self, on_output: Output, *, files_dir: Path) -> None:
        self.on_output = on_output
        self.files_dir = files_dir
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._uploads: dict[str, str] = {}
        handler = self._handler_class()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/respond/{name}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def next_ts(self) -> str:
        with self._lock:
            return f"1700000000.{next(self._ts):06d}"

    def answer(self, method: str, body: dict[str, Any], raw: bytes) -> dict[str, Any]:
        """What Slack would answer; messages and views are shown to the person."""
        ts = self.next_ts()
        if method == "chat.postMessage":
            if str(body.get("channel")) in CHANNELS_WITHOUT_ACCORD:
                return {"ok": False, "error": "not_in_channel"}
            body = {**body, "ts": ts}
        if method in (
            "chat.postMessage",
            "chat.postEphemeral",
            "chat.update",
            "views.open",
            "views.push",
            "views.update",
            "views.publish",
            "response_url",
        ):
            self.on_output(method, body)
        if method == "chat.postMessage":
            return {
                "ok": True,
                "channel": body.get("channel"),
                "ts": ts,
                "message": {"ts": ts, "text": body.get("text")},
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}
        if method.startswith("views."):
            return {"ok": True, "view": {"id": f"V{self.next_ts().replace('.', '')}"}}
        if method == "auth.test":
            return {"ok": True, "user_id": "U0ACCORD", "bot_id": "B0ACCORD", "team_id": "T0DEMO"}
        if method == "users.info":
            user = by_id(str(body.get("user")))
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            return {
                "ok": True,
                "user": {
                    "id": user.user_id,
                    "name": user.name,
                    "tz": user.tz,
                    "real_name": user.name.title(),
                },
            }
        if method == "users.list":
            return {"ok": True, "members": [{"id": u.user_id, "name": u.name} for u in DEMO_USERS]}
        if method == "conversations.info":
            channel = str(body.get("channel"))
            if channel not in DEMO_CHANNELS:
                return {"ok": False, "error": "channel_not_found"}
            member = channel not in CHANNELS_WITHOUT_ACCORD
            return {
                "ok": True,
                "channel": {"id": channel, "name": DEMO_CHANNELS[channel], "is_member": member},
            }
        if method == "chat.getPermalink":
            channel, message_ts = str(body.get("channel")), str(body.get("message_ts"))
            link = f"https://demo.slack.com/archives/{channel}/p{message_ts.replace('.', '')}"
            return {"ok": True, "channel": channel, "permalink": link}
        if method == "conversations.open":
            users = str(body.get("users") or "").split(",")[0]
            return {"ok": True, "channel": {"id": "D" + users}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{self.next_ts().replace('.', '')}"
            self._uploads[file_id] = str(body.get("filename", "export"))
            upload = self.base_url.replace("/api/", f"/upload/{file_id}")
            return {"ok": True, "upload_url": upload, "file_id": file_id}
        if method == "upload":
            return {"ok": True}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": f["id"]} for f in body.get("files", [])]}
        return {"ok": True}

    def save_upload(self, file_id: str, raw: bytes) -> None:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        name = Path(self._uploads.get(file_id, file_id)).name
        path = self.files_dir / name
        path.write_bytes(raw)
        self.on_output("file", {"path": str(path), "bytes": len(raw)})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        local = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.urlparse(self.path).path
                if path.startswith("/upload/"):
                    local.save_upload(path.rsplit("/", 1)[1], raw)
                    payload: dict[str, Any] = {"ok": True}
                else:
                    method = "response_url" if path.startswith("/respond/") else path[5:]
                    payload = local.answer(method, _decode(self.headers, raw), raw)
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _decode(headers: Any, raw: bytes) -> dict[str, Any]:
    if "json" in str(headers.get("Content-Type", "")):
        return dict(json.loads(raw or b"{}"))
    form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace")))
    decoded: dict[str, Any] = {}
    for key, value in form.items():
        try:
            parsed = json.loads(value)
            decoded[key] = parsed if isinstance(parsed, (list, dict)) else value
        except ValueError:
            decoded[key] = value
    return decoded
