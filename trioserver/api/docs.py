"""`GET /docs`: the API reference page, rendered by Swagger UI from `/openapi.json`.

Its script and stylesheet are package data (`docs_ui/`), served here: the page needs no
network, unlike the reference's, which loads its renderer from a public CDN.
"""

from __future__ import annotations

from pathlib import Path

from quart import Quart, Response, send_from_directory

from ..errors import NotFound
from ..services import Services

ASSETS = Path(__file__).resolve().parent / "docs_ui"
SERVED = ("swagger-ui-bundle.js", "swagger-ui.css")

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>trioserver API reference</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="api"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    // validatorUrl: null - Swagger UI would otherwise send the document to a public validator.
    window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#api", deepLinking: true, validatorUrl: null});
  </script>
</body>
</html>
"""


def register(app: Quart, svc: Services) -> None:
    @app.get("/docs")
    async def docs() -> Response:
        return Response(PAGE, status=200, content_type="text/html; charset=utf-8")

    @app.get("/docs/assets/<name>")
    async def docs_asset(name: str) -> Response:
        if name not in SERVED:
            raise NotFound(f"No docs asset {name}")
        response = await send_from_directory(ASSETS, name)
        response.cache_control.max_age = 86400
        response.cache_control.public = True
        return response
