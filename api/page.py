"""The sandbox page: the front end built from web/ (`npm run build` → web/dist), served at /sandbox.

The HTML and its hashed assets need no credential (the page signs in through the session cookie
set by `/sandbox?token=…`, see api/routes/auth.py); every API call the page makes does.
When the front end has not been built, /sandbox says how to build it instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

# The page loads scripts and styles only from itself and talks only to its own origin (HTTP and
# the Socket.IO WebSocket); recharts and the virtual list set inline style attributes.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)

NOT_BUILT = (
    "<!doctype html><title>optbox</title><link rel='icon' href='data:,'><h1>optbox</h1>"
    "<p>The sandbox page is not built: run <code>make install</code> (it runs <code>npm ci &amp;&amp; npm run build</code> in web/).</p>"
    "<p>API: <a href='/docs'>/docs</a></p>"
)


INVALID_LINK = (
    # no icon to fetch: the browser would ask for /favicon.ico and log its 404
    "<!doctype html><title>optbox: sign-in link refused</title><link rel='icon' href='data:,'><h1>optbox</h1>"
    "<p>This sign-in link's token is invalid or revoked.</p>"
    "<p><a href='/sandbox'>Sign in</a> with a current key, or use the link <code>make run</code> printed.</p>"
)


def invalid_link_response() -> HTMLResponse:
    """What a browser gets for a stale sign-in link: a page that says so (API clients get JSON)."""
    return HTMLResponse(INVALID_LINK, status_code=401, headers={"Content-Security-Policy": PAGE_POLICY})


def page_response(web_dir: Path) -> FileResponse | HTMLResponse:
    index = web_dir / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT, status_code=503)
    # The HTML names hashed asset files: always revalidate it so a rebuild is picked up at once.
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache", "Content-Security-Policy": PAGE_POLICY})


def mount_assets(app: FastAPI, web_dir: Path) -> None:
    """Hashed, immutable build output under /sandbox/assets (check_dir=False: the build may come later)."""
    app.mount("/sandbox/assets", StaticFiles(directory=web_dir / "assets", check_dir=False), name="sandbox-assets")
