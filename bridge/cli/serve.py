"""``rjs-bridge serve``: a model's page on http://127.0.0.1, for a browser."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bridge.cli.options import reader_options
from bridge.cli.page import encoding_option
from bridge.t7.backends import ReaderChoice
from bridge.web.page import PageEncoding, load_page_model, render_page
from bridge.web.server import HOST, page_server

log = logging.getLogger(__name__)


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="The port to listen on; 0 picks a free one.",
)
@encoding_option
@reader_options
def serve(
    model: Path,
    port: int,
    encoding: PageEncoding,
    reader: ReaderChoice,
) -> None:
    """Serve the page that runs MODEL on http://127.0.0.1:PORT/ until Ctrl-C.

    The page is the one 'rjs-bridge page' writes. Only this computer can
    open it: the server listens on the loopback address alone.
    """
    loaded = load_page_model(
        model,
        encoding=encoding,
        reader=reader,
    )
    server = page_server(render_page(loaded).encode("utf-8"), port)
    bound = server.server_address[1]
    log.info("Serving %s (%s); press Ctrl-C to stop", loaded.title, loaded.facts())
    click.echo(f"http://{HOST}:{bound}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
