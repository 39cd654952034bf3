"""The HTTP edge: what every request passes before Reflex sees it.

``HmsApp`` (hms_app/hms_app.py) wraps Reflex's whole ASGI app in these, outermost first:

- ``headers.SecurityHeaders``: Content-Security-Policy (inline scripts allowed by hash), no
  framing, no sniffing, same-origin referrers, HSTS when the public URL is https;
- ``origins.OriginGuard``: a request or websocket from a page on another origin is refused
  with 403, before Reflex's CORS answer could let it read anything;
- ``session_cookie.SessionCookieRoutes``: the routes that set and clear the HttpOnly session
  cookie;
- ``uploads.UploadGuard``: an upload is refused before its body is read unless the tab's user
  may call the handler it names, and its body stays under ``HMS_MAX_UPLOAD_MB``.
"""
