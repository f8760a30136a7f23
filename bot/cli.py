"""`accord` entry points: serve (HTTP), socket, clock, db upgrade, audit, exports, shell."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from bot.bootstrap import (
    build_slack_services,
    build_web_client,
    check_audit_key,
    configure_logging,
)
from bot.config import ConfigurationError, Settings
from bot.db import make_engine, upgrade
from bot.services import Services

app = typer.Typer(help="Accord: CIO–CISO coordination in Slack.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
export_app = typer.Typer(
    help="Export records as files: risks for auditors, review packs, calendars.",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")
audit_app = typer.Typer(
    help="The tamper-evident audit trail: verify the chain, show its head.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")
gate_app = typer.Typer(
    help="The deployment gate, from any pipeline (GitLab, Jenkins, Argo CD, Terraform).",
    no_args_is_help=True,
)
app.add_typer(gate_app, name="gate")
#: `accord gate check` exit codes: allowed, held, and Accord unreachable or refusing.
GATE_ALLOWED, GATE_HELD, GATE_ERROR = 0, 3, 2
log = logging.getLogger("accord")


def _fail(message: str) -> None:
    typer.echo(f"accord: {message}", err=True)
    raise typer.Exit(code=2)


def _start_delivery(services: Services) -> None:
    """Run the outbox's deliverer on a thread of this process (see bot/slack/deliver.py)."""
    from bot.slack.deliver import Deliverer

    if isinstance(services.outbound, Deliverer):
        services.outbound.start()
        services.outbound.kick()  # whatever was left by the previous process


def _check_audit_key(settings: Settings) -> None:
    try:
        check_audit_key(settings)
    except ConfigurationError as error:
        _fail(str(error))


def _migrated_engine(settings: Settings) -> Engine:
    """The database, migrated, signing its audit chain with ACCORD_AUDIT_KEY."""
    _check_audit_key(settings)
    engine = make_engine(settings.database_url, audit_key=settings.audit_secret())
    upgrade(engine)
    return engine


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default $PORT or 3000).")] = None,
    host: str = "0.0.0.0",  # noqa: S104  (a web process must listen beyond loopback)
) -> None:
    """HTTP mode: POST /slack/events, GET /healthz, the gate API and POST /github/webhook."""
    from waitress import serve as waitress_serve

    from bot.slack.app import build_app
    from bot.slack.runner import tune_interpreter
    from bot.web import SERVER_OPTIONS, AccordWsgi

    configure_logging()
    settings = Settings()
    try:
        token, secret = settings.require_http_credentials()
    except ConfigurationError as error:
        _fail(str(error))
        return
    _check_audit_key(settings)
    client = build_web_client(settings, token=token)
    services = build_slack_services(settings, client=client)
    bolt = build_app(services, client=client, signing_secret=secret)
    _start_delivery(services)
    listen_port = port or settings.port
    log.info("Accord listening on %s:%s", host, listen_port)
    tune_interpreter()  # issue 13: GIL hand-over and start-up objects out of the GC's way
    waitress_serve(
        AccordWsgi(bolt, services, signing_secret=secret),
        host=host,
        port=listen_port,
        threads=8,
        **SERVER_OPTIONS,
    )


@app.command()
def socket(
    check_every: Annotated[
        float,
        typer.Option(min=1.0, help="Seconds between connection health checks (auth.test, ping)."),
    ] = 60.0,
) -> None:
    """Socket Mode: connects out to Slack with SLACK_APP_TOKEN (no public URL needed)."""
    from slack_sdk.errors import SlackApiError

    from bot.socket_mode import SocketWatchdog, build_socket_mode

    configure_logging()
    try:
        mode = build_socket_mode(Settings())
    except ConfigurationError as error:
        _fail(str(error))
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = mode.handler.client
    watchdog = SocketWatchdog(client, interval=check_every).start()
    try:
        client.connect()
        if client.is_connected():
            log.info("Accord connected in Socket Mode")
        else:  # slack_sdk logs the handshake failure and retries on its own
            log.warning("Socket Mode could not connect yet; retrying")
        stop.wait()
    except SlackApiError as error:
        _fail(f"Slack refused the Socket Mode connection ({error.response.get('error')})")
    except KeyboardInterrupt:
        pass
    finally:
        watchdog.stop()
        mode.close()


@app.command()
def clock() -> None:
    """The scheduler process (run exactly one)."""
    from bot.scheduler.clock import build_scheduler
    from bot.slack.notifier import SlackNotifier

    configure_logging()
    settings = Settings()
    try:
        token = settings.require_bot_token()
    except ConfigurationError as error:
        _fail(str(error))
        return
    _check_audit_key(settings)
    client = build_web_client(settings, token=token)
    services = build_slack_services(settings, client=client)
    _start_delivery(services)  # also the sweeper: what a web process could not send
    scheduler = build_scheduler(services, SlackNotifier(client))
    log.info("Accord clock started with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    scheduler.start()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to DATABASE_URL."""
    configure_logging()
    _migrated_engine(Settings())
    typer.echo("database is up to date")


@export_app.command("ics")
def export_ics(
    ref: Annotated[str, typer.Argument(help="The touchpoint series, e.g. TP-1.")],
    out: Annotated[
        Path | None, typer.Option("--output", "--out", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write a touchpoint series as an iCalendar (.ics) file."""
    from datetime import UTC, datetime

    from bot.db import session_scope
    from bot.domain import touchpoints
    from bot.domain.calendar import series_ics
    from bot.domain.errors import UserError
    from bot.domain.refs import Kind, parse_ref

    engine = _migrated_engine(Settings())
    try:
        with session_scope(engine) as session:
            series = touchpoints.get_series(session, number=parse_ref(ref, Kind.TOUCHPOINT))
            content = series_ics(
                series,
                skipped=touchpoints.skipped_starts(session, series_id=series.id),  # type: ignore[arg-type]
                now=datetime.now(UTC),
            )
    except UserError as error:
        _fail(error.message)
        return
    if out is None:
        sys.stdout.buffer.write(content)
    else:
        out.write_bytes(content)
        typer.echo(f"wrote {out}")


@export_app.command("risks")
def export_risks_command(
    format: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file (default: stdout).")
    ] = None,
) -> None:
    """The risk register with every field and the full approval history."""
    from bot.db import session_scope
    from bot.domain.risk_export import ExportFormat, export_risks

    try:
        fmt = ExportFormat(format.strip().lower())
    except ValueError:
        _fail(f"--format must be csv or json, not {format!r}")
        return
    engine = _migrated_engine(Settings())
    with session_scope(engine) as session:
        content = export_risks(session, fmt)
    if output is None:
        typer.echo(content, nl=False)
    else:
        output.write_text(content, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


@app.command()
def shell(
    database: Annotated[
        Path | None, typer.Option(help="SQLite file for the shell (default accord-shell.db).")
    ] = None,
) -> None:
    """Try Accord locally: type /accord commands as demo users; no Slack, no LLM needed."""
    from bot.shell import run_shell

    run_shell(database=database, interactive=sys.stdin.isatty())


# -- accord audit ------------------------------------------------------------------------------

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database", help="Database URL or SQLite file (default: $DATABASE_URL, accord.db)."
    ),
]


def _audit_engine(settings: Settings, database: str | None) -> Engine:
    """The database as it is (no migration: checking must not write)."""
    url = database or settings.database_url
    if "://" not in url:
        url = f"sqlite:///{Path(url).resolve()}"
    try:
        return make_engine(url, audit_key=settings.audit_secret())
    except ConfigurationError as error:
        _fail(str(error))
        raise


@audit_app.command("verify")
def audit_verify(
    database: DatabaseOption = None,
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="A chain head published earlier, N:hash (as the digest shows it); the chain "
            "must still contain it, which shows a rewrite of the whole chain.",
        ),
    ] = None,
) -> None:
    """Recompute the audit chain; exit 1 naming the first event changed, removed or inserted."""
    from sqlalchemy.exc import DBAPIError

    from bot.db import session_scope
    from bot.domain.audit_chain import parse_head, verify_chain
    from bot.domain.errors import UserError

    settings = Settings()
    try:
        published = parse_head(head) if head else None
    except UserError as error:
        _fail(f"--head: {error.message} {error.hint or ''}".strip())
        return
    engine = _audit_engine(settings, database)
    try:
        with session_scope(engine) as session:
            report = verify_chain(session, published=published)
    except DBAPIError as error:
        _fail(f"cannot read the audit chain ({type(error.orig).__name__}); run `accord db upgrade`")
        return
    finally:
        engine.dispose()
    typer.echo(report.summary())
    raise typer.Exit(code=0 if report.ok else 1)


@audit_app.command("head")
def audit_head(database: DatabaseOption = None) -> None:
    """Print the chain head (event number and hash) to publish or keep outside the database."""
    from sqlalchemy.exc import DBAPIError

    from bot.db import session_scope
    from bot.domain.audit_chain import chain_head

    engine = _audit_engine(Settings(), database)
    try:
        with session_scope(engine) as session:
            head = chain_head(session)
    except DBAPIError as error:
        _fail(f"cannot read the audit chain ({type(error.orig).__name__}); run `accord db upgrade`")
        return
    finally:
        engine.dispose()
    if head is None:
        _fail("the audit chain head record is missing; run `accord audit verify`")
        return
    typer.echo(f"#{head.seq} {head.hash}")


# -- accord export review (issue 6) -------------------------------------------------------------


@export_app.command("review")
def export_review(
    format_: Annotated[str, typer.Option("--format", help="Only `md` (Markdown).")] = "md",
    output: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
) -> None:
    """The leadership review pack: the digest's content as a Markdown document."""
    from bot.clock import SystemClock
    from bot.export.review import review_markdown
    from bot.slack.digest_delivery import make_digest

    if format_.lower() not in ("md", "markdown"):
        _fail(f"unknown format {format_!r}; use --format md")
    configure_logging()
    settings = Settings()
    _check_audit_key(settings)
    from bot.bootstrap import build_services
    from bot.slack.usergroups import SlackGroupMembers

    services = build_services(settings, groups=SlackGroupMembers(build_web_client(settings)))
    clock = SystemClock()
    text = review_markdown(make_digest(services, clock.now()))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


@gate_app.command("check")
def gate_check(
    service: Annotated[str, typer.Option(help="The service, e.g. payments-api.")],
    environment: Annotated[str, typer.Option(help="The environment, e.g. production.")],
    url: Annotated[
        str | None, typer.Option(envvar="ACCORD_GATE_URL", help="Accord's base URL.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="ACCORD_GATE_TOKEN", help="A gate token.", show_default=False),
    ] = None,
    version: Annotated[str | None, typer.Option(help="What is being deployed.")] = None,
    pipeline_url: Annotated[str | None, typer.Option(help="Link to this pipeline run.")] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for Accord.")] = 10.0,
    fail_open: Annotated[
        bool,
        typer.Option(
            "--fail-open",
            help="Allow the deployment when Accord cannot be reached (default: fail closed). "
            "A refused token still fails.",
        ),
    ] = False,
) -> None:
    """Ask whether a security hold stops this deployment: exit 0 allowed, 3 held, 2 unreachable
    or refused (fail closed)."""
    from bot.api.client import GateRefused, GateUnreachable, check_gate, describe_hold

    if not url or not token:
        typer.echo(
            "accord: give --url and --token (or ACCORD_GATE_URL, ACCORD_GATE_TOKEN)", err=True
        )
        raise typer.Exit(code=GATE_ERROR)
    target = f"{service}@{environment}"
    try:
        result = check_gate(
            url=url,
            token=token,
            service=service,
            environment=environment,
            version=version,
            pipeline_url=pipeline_url,
            timeout=timeout,
        )
    except GateRefused as error:
        typer.echo(f"accord: {error}; {target} is not allowed", err=True)
        raise typer.Exit(code=GATE_ERROR) from None
    except GateUnreachable as error:
        if fail_open:
            typer.echo(f"accord: {error}; --fail-open: allowing {target} unchecked", err=True)
            raise typer.Exit(code=GATE_ALLOWED) from None
        typer.echo(f"accord: {error}; failing closed: {target} is not allowed", err=True)
        raise typer.Exit(code=GATE_ERROR) from None
    if result.allowed:
        typer.echo(f"allowed: no security hold covers {target}")
        raise typer.Exit(code=GATE_ALLOWED)
    typer.echo(f"HELD: {target} is under {len(result.holds)} security hold(s):")
    for hold in result.holds:
        typer.echo(describe_hold(hold))
    raise typer.Exit(code=GATE_HELD)


if __name__ == "__main__":
    app()
