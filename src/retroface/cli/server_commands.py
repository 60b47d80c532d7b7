"""`retroface serve` (the REST API) and API keys for the machines that call it."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from retroface.cli.context import JsonFlag, emit_json, open_cli_app, out

apikey_app = typer.Typer(help="API keys for machines (admin).", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Addresses (or networks, comma-separated) of the reverse proxies whose "
            "X-Forwarded-For/-Proto headers are believed; default $RETROFACE_FORWARDED_ALLOW_IPS, "
            "else none: the client address is the connection's."
        ),
    ] = None,
) -> None:
    """Run the REST API and the web UI (docs page only with RETROFACE_API_DOCS=1).

    Listens on localhost by default: put a TLS-terminating proxy in front of it
    before exposing it to a network, and name it with --forwarded-allow-ips.
    """
    import uvicorn  # noqa: PLC0415 - the web stack loads only for serve

    from retroface.server import create_server  # noqa: PLC0415

    application = open_cli_app(identify=False)
    if forwarded_allow_ips is not None:
        settings = application.settings.with_(forwarded_allow_ips=forwarded_allow_ips)
        application = replace(application, settings=settings)
    out.print(f"retroface on http://{host}:{port}/ui/ (data: {application.settings.home})")
    # The server decides whom to believe (server.py, from the setting): uvicorn's own proxy
    # header handling would trust X-Forwarded-For from any loopback client.
    uvicorn.run(
        create_server(application=application),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        server_header=False,
    )


@apikey_app.command("create")
def apikey_create(
    username: Annotated[str, typer.Argument(help="The (non-admin) user the key acts as.")],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. the calling system.")],
    days: Annotated[int, typer.Option(help="Days until the key expires.")] = 365,
    json_out: JsonFlag = False,
) -> None:
    """Create an API key; it is printed once and only its hash is kept."""
    from retroface.services.access import api_keys as key_service  # noqa: PLC0415 - loaded only by this command

    created = key_service.create_api_key(open_cli_app(), username, name, days)
    if json_out:
        emit_json(created)
        return
    out.print(
        f"API key {created.details.id} for {username} ({created.details.role}), "
        f"expires {created.details.expires_at:%Y-%m-%d}:"
    )
    out.print(created.key)
    out.print("Store it now: it cannot be shown again.")


@apikey_app.command("list")
def apikey_list(json_out: JsonFlag = False) -> None:
    from retroface.services.access import api_keys as key_service  # noqa: PLC0415 - loaded only by this command

    keys = key_service.list_api_keys(open_cli_app())
    if json_out:
        emit_json(list(keys))
        return
    for k in keys:
        state = "revoked" if k.revoked_at else "active"
        out.print(f"{k.id}  {k.name}  {k.username} ({k.role})  {state}")


@apikey_app.command("revoke")
def apikey_revoke(key_id: int) -> None:
    from retroface.services.access import api_keys as key_service  # noqa: PLC0415 - loaded only by this command

    revoked = key_service.revoke_api_key(open_cli_app(), key_id)
    out.print(f"API key {revoked.id} ({revoked.name}) revoked")
