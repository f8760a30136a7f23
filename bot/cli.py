"""`accord` entry points: serve (HTTP), socket, clock, db upgrade, audit, exports, shell."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from bot.config import ConfigurationError, Settings, load_settings
from bot.logs import configure_logging

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.services import Services

# The rest of Accord (SQLAlchemy, the models, slack_sdk, bolt) is imported by the commands that
# use it, after the settings are read: `--help` and a process refused for its settings answer
# in a fraction of a full start-up.

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
attack_app = typer.Typer(
    help="The MITRE ATT&CK Enterprise catalogue risk techniques are checked against.",
    no_args_is_help=True,
)
app.add_typer(attack_app, name="attack")
threat_app = typer.Typer(
    help="Threat briefs: import CISA's Known Exploited Vulnerabilities catalogue.",
    no_args_is_help=True,
)
app.add_typer(threat_app, name="threat")
#: `accord gate check` exit codes: allowed, held, and Accord unreachable or refusing.
GATE_ALLOWED, GATE_HELD, GATE_ERROR = 0, 3, 2
log = logging.getLogger("accord")


SHELL_DATABASE = Path("accord-shell.db")
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="SQLite file or database URL to read (default: DATABASE_URL, else ./accord.db; "
        "`accord shell` keeps its records in accord-shell.db).",
    ),
]


def _fail(message: str) -> NoReturn:
    typer.echo(f"accord: {message}", err=True)
    raise typer.Exit(code=2)


def _start_delivery(services: Services) -> None:
    """Run the outbox's deliverer on a thread of this process (see bot/slack/deliver.py)."""
    from bot.slack.deliver import Deliverer

    if isinstance(services.outbound, Deliverer):
        services.outbound.start()
        services.outbound.kick()  # whatever was left by the previous process


def _settings(*, starting: bool = False) -> Settings:
    """The settings, or one line naming every bad one; a process that starts also warns about
    side settings that hold names instead of Slack ids."""
    try:
        settings = load_settings()
    except ConfigurationError as error:
        _fail(str(error))
    if starting:
        for warning in settings.side_id_warnings():
            typer.echo(f"accord: warning: {warning}", err=True)
    return settings


@contextmanager
def _explained(database_url: str) -> Iterator[None]:
    """Problems a person can fix (a setting, the database) end the command with one line
    saying what is wrong and what to do, not a traceback."""
    try:
        yield
    except ConfigurationError as error:
        _fail(str(error))
    except _database_errors() as error:
        from bot.db import explain_database_error

        _fail(explain_database_error(database_url, error))


def _database_errors() -> tuple[type[Exception], ...]:
    """What `_explained` explains (evaluated only when an exception reaches it)."""
    from bot.db import DATABASE_ERRORS

    return DATABASE_ERRORS


def _database_url(settings: Settings, database: str | None) -> str:
    if database is None:
        return settings.database_url
    return database if "://" in database else f"sqlite:///{Path(database).resolve()}"


def _migrated_engine(
    settings: Settings, database: str | None = None, *, reading: bool = False
) -> Engine:
    """The database (DATABASE_URL or --database), migrated, signing its audit chain with
    ACCORD_AUDIT_KEY. Without a key PostgreSQL is refused before anything is written; SQLite
    is used with the development key, with a warning unless the command only reads (an
    export). Run it inside `_explained`: the errors are a person's to fix."""
    from bot.bootstrap import check_audit_key
    from bot.db import make_engine, upgrade

    url = _database_url(settings, database)
    settings = settings.model_copy(update={"database_url": url})
    engine = make_engine(url, audit_key=settings.audit_secret())
    if reading:
        settings.require_audit_key()
    else:
        check_audit_key(settings)
    upgrade(engine)
    return engine


def _audit_export(session: Any, what: str, output: Path | None, *, records: int) -> None:
    """Every export is itself an audit event, in the export's own transaction."""
    import getpass
    from datetime import UTC, datetime

    from bot.domain.risk_export import record_cli_export

    try:
        operator = getpass.getuser()
    except Exception:  # no login name (a container without /etc/passwd entry)
        operator = "unknown"
    record_cli_export(
        session,
        operator=operator,
        what=what,
        output=str(output) if output is not None else "stdout",
        records=records,
        now=datetime.now(UTC),
    )


def _export_engine(settings: Settings, database: str | None) -> Engine:
    """The database an export reads, named on stderr; a missing SQLite file is an error (an
    export must not create an empty database and report nothing)."""
    from sqlalchemy.engine import make_url

    from bot.db import shown_url

    url = _database_url(settings, database)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not Path(path).exists():
            hint = ""
            if database is None and SHELL_DATABASE.exists():
                hint = (
                    f" `accord shell` keeps its records in {SHELL_DATABASE}: "
                    f"add --database {SHELL_DATABASE}."
                )
            _fail(f"there is no Accord database at {path}.{hint}")
    typer.echo(f"accord: reading {shown_url(url)}", err=True)
    return _migrated_engine(settings, database, reading=True)


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default $PORT or 3000).")] = None,
    host: str = "0.0.0.0",  # noqa: S104  (a web process must listen beyond loopback)
) -> None:
    """HTTP mode: POST /slack/events, GET /healthz, the gate API and POST /github/webhook."""
    configure_logging()
    settings = _settings(starting=True)
    with _explained(settings.database_url):
        token, secret = settings.require_http_credentials()
    from waitress import serve as waitress_serve

    from bot.bootstrap import build_slack_services, build_web_client, check_audit_key
    from bot.slack.app import build_app
    from bot.slack.runner import tune_interpreter
    from bot.web import SERVER_OPTIONS, AccordWsgi

    with _explained(settings.database_url):
        check_audit_key(settings)
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
    configure_logging()
    settings = _settings(starting=True)
    from slack_sdk.errors import SlackApiError

    from bot.socket_mode import SocketWatchdog, build_socket_mode

    with _explained(settings.database_url):
        mode = build_socket_mode(settings)
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
    configure_logging()
    settings = _settings(starting=True)
    with _explained(settings.database_url):
        token = settings.require_bot_token()
    from bot.bootstrap import build_slack_services, build_web_client, check_audit_key
    from bot.scheduler.clock import build_scheduler
    from bot.slack.notifier import SlackNotifier

    with _explained(settings.database_url):
        check_audit_key(settings)
        client = build_web_client(settings, token=token)
        services = build_slack_services(settings, client=client)
        _start_delivery(services)  # also the sweeper: what a web process could not send
        scheduler = build_scheduler(services, SlackNotifier(client))
    log.info("Accord clock started with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    scheduler.start()


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None) -> None:
    """Apply every pending migration to DATABASE_URL (or --database)."""
    from bot.db import shown_url

    configure_logging()
    settings = _settings()
    url = _database_url(settings, database)
    with _explained(url):
        _migrated_engine(settings, database).dispose()
    typer.echo(f"database {shown_url(url)} is up to date")


@export_app.command("ics")
def export_ics(
    ref: Annotated[str, typer.Argument(help="The touchpoint series, e.g. TP-1.")],
    out: Annotated[
        Path | None, typer.Option("--output", "--out", help="File to write (default: stdout).")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Write a touchpoint series as an iCalendar (.ics) file."""
    from datetime import UTC, datetime

    from bot.db import session_scope
    from bot.domain import touchpoints
    from bot.domain.calendar import series_ics
    from bot.domain.errors import UserError
    from bot.domain.refs import Kind, parse_ref

    settings = _settings()
    try:
        with (
            _explained(_database_url(settings, database)),
            session_scope(_export_engine(settings, database)) as session,
        ):
            series = touchpoints.get_series(session, number=parse_ref(ref, Kind.TOUCHPOINT))
            content = series_ics(
                series,
                skipped=touchpoints.skipped_starts(session, series_id=series.id),  # type: ignore[arg-type]
                now=datetime.now(UTC),
            )
            _audit_export(session, f"ics {series.ref}", out, records=1)
    except UserError as error:
        _fail(error.message)
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
    database: DatabaseOption = None,
) -> None:
    """The risk register with every field and the full approval history."""
    from bot.db import session_scope
    from bot.domain.risk_export import ExportFormat, export_risks
    from bot.domain.risks import all_risks

    try:
        fmt = ExportFormat(format.strip().lower())
    except ValueError:
        _fail(f"--format must be csv or json, not {format!r}")
    settings = _settings()
    with (
        _explained(_database_url(settings, database)),
        session_scope(_export_engine(settings, database)) as session,
    ):
        content = export_risks(session, fmt, _names(settings))
        _audit_export(session, "risks", output, records=len(all_risks(session)))
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


def _audit_engine(settings: Settings, database: str | None) -> Engine:
    """The database as it is (no migration: checking must not write)."""
    from bot.db import make_engine

    url = _database_url(settings, database)
    with _explained(url):
        return make_engine(url, audit_key=settings.audit_secret())


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

    settings = _settings()
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

    engine = _audit_engine(_settings(), database)
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
    database: DatabaseOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Changes after this date (YYYY-MM-DD, UTC midnight) instead of since the "
            "last posted digest."
        ),
    ] = None,
) -> None:
    """The leadership review pack: the digest's content as a Markdown document."""
    from bot.clock import SystemClock
    from bot.db import session_scope
    from bot.export.review import review_markdown
    from bot.slack.digest_delivery import make_digest

    if format_.lower() not in ("md", "markdown"):
        _fail(f"unknown format {format_!r}; use --format md")
    start = _since(since)
    configure_logging()
    from bot.bootstrap import build_delivery_client, build_services, build_web_client
    from bot.slack.usergroups import SlackGroupMembers
    from bot.slack.workspace import SlackWorkspace

    settings = _settings()
    url = _database_url(settings, database)
    with _explained(url):
        _export_engine(settings, database).dispose()
        settings = settings.model_copy(update={"database_url": url})
        services = build_services(settings, groups=SlackGroupMembers(build_web_client(settings)))
        if settings.slack_bot_token:  # people by name; without Slack, by id
            services.workspace = SlackWorkspace(build_delivery_client(settings))
        text = review_markdown(make_digest(services, SystemClock().now(), since=start))
        with session_scope(services.engine) as session:
            _audit_export(session, "review", output, records=0)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


def _names(settings: Settings) -> Callable[[str], str | None]:
    """People's names from Slack (users.info) when a bot token is set; else none (ids only)."""
    if not settings.slack_bot_token:
        return lambda _user_id: None
    from bot.bootstrap import build_delivery_client
    from bot.slack.workspace import SlackWorkspace

    return SlackWorkspace(build_delivery_client(settings)).display_name


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        _fail(f"--since {value!r} is not a date; give YYYY-MM-DD, e.g. --since 2026-11-01")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


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


def _read_json(path: Path) -> object:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        _fail(f"cannot read {path}: {error.strerror or error}")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        _fail(f"{path} is not JSON ({error})")


@attack_app.command("update")
def attack_update(
    file: Annotated[Path, typer.Argument(help="MITRE's enterprise-attack.json (STIX 2.1).")],
    database: DatabaseOption = None,
) -> None:
    """Load a newer ATT&CK Enterprise release into the database, for every replica."""
    from bot.clock import SystemClock
    from bot.db import session_scope
    from bot.domain.attack.service import import_bundle
    from bot.domain.errors import UserError

    bundle = _read_json(file)
    settings = _settings()
    with _explained(_database_url(settings, database)):
        engine = _migrated_engine(settings, database)
        try:
            with session_scope(engine) as session:
                result = import_bundle(
                    session,
                    bundle=bundle,
                    source=file.name,
                    actor_id="accord-cli",
                    now=SystemClock().now(),
                )
        except UserError as error:
            _fail(f"{error.message} {error.hint or ''}".strip())
        finally:
            engine.dispose()
    live = len(result.catalogue.live())
    typer.echo(
        f"ATT&CK Enterprise v{result.catalogue.version}: {live} techniques in force "
        f"(was v{result.previous.version}); {len(result.added)} new, "
        f"{len(result.retired)} revoked or deprecated since."
    )


@attack_app.command("show")
def attack_show(database: DatabaseOption = None) -> None:
    """Which ATT&CK release risk techniques are checked against."""
    from bot.db import session_scope
    from bot.domain.attack.service import current_catalogue

    settings = _settings()
    with (
        _explained(_database_url(settings, database)),
        session_scope(_export_engine(settings, database)) as session,
    ):
        catalogue = current_catalogue(session)
    typer.echo(
        f"ATT&CK Enterprise v{catalogue.version} ({catalogue.source}): "
        f"{len(catalogue.live())} techniques in force, {len(catalogue)} ids in all."
    )


@export_app.command("attack-layer")
def export_attack_layer(
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file (default: stdout).")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Accepted risks' ATT&CK techniques as a Navigator layer (JSON), scored by risk score."""
    import json

    from bot.clock import SystemClock
    from bot.db import session_scope
    from bot.domain.attack.exposure import accepted_in_force, navigator_layer
    from bot.domain.attack.service import current_catalogue

    settings = _settings()
    today = SystemClock().now().date()
    with (
        _explained(_database_url(settings, database)),
        session_scope(_export_engine(settings, database)) as session,
    ):
        layer = navigator_layer(
            accepted_in_force(session, today=today),
            catalogue=current_catalogue(session),
            today=today,
        )
        _audit_export(session, "attack-layer", output, records=len(layer["techniques"]))
    content = json.dumps(layer, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(content, nl=False)
    else:
        output.write_text(content, encoding="utf-8")
        typer.echo(f"wrote {output} ({len(layer['techniques'])} techniques)", err=True)


@threat_app.command("import")
def threat_import(
    file: Annotated[Path, typer.Argument(help="CISA's known_exploited_vulnerabilities.json.")],
    database: DatabaseOption = None,
) -> None:
    """Store a KEV catalogue; a brief is made for each new CVE an open initiative covers."""
    from sqlalchemy.exc import IntegrityError

    from bot.clock import SystemClock
    from bot.db import session_scope
    from bot.domain.errors import UserError
    from bot.domain.threats.service import import_kev

    data = _read_json(file)
    settings = _settings()
    with _explained(_database_url(settings, database)):
        engine = _migrated_engine(settings, database)
        try:
            with session_scope(engine) as session:
                result = import_kev(
                    session, data=data, actor_id="accord-cli", now=SystemClock().now()
                )
                made = [f"{b.ref} {b.title}" for b in result.briefs]
        except UserError as error:
            _fail(f"{error.message} {error.hint or ''}".strip())
        except IntegrityError:
            _fail("another import stored the same entries at the same time; run it again")
        finally:
            engine.dispose()
    typer.echo(
        f"KEV catalogue {result.version or '(no version)'}: {result.entries} entries, "
        f"{result.new} new; {len(made)} brief(s) for CVEs in what initiatives cover."
    )
    for line in made[:50]:
        typer.echo(f"  {line}")


if __name__ == "__main__":
    app()
