"""The web page that runs a model in a browser, and its JavaScript runtime.

runtime.js is the runtime (a UMD module: ``require`` it in Node, or inline it
and use the ``RjsBridge`` global); page.html, page.css and page.js are the
page around it; :mod:`bridge.web.page` puts them together with a model and
:mod:`bridge.web.server` serves the result on localhost.
"""

from bridge.web.page import (
    PAGE_ENCODINGS,
    PageEncoding,
    PageModel,
    PageResult,
    default_output,
    load_page_model,
    render_page,
    write_page,
)
from bridge.web.server import page_server

__all__ = [
    "PAGE_ENCODINGS",
    "PageEncoding",
    "PageModel",
    "PageResult",
    "default_output",
    "load_page_model",
    "page_server",
    "render_page",
    "write_page",
]
