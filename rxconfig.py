"""Reflex configuration. Every value comes from hms_app.settings (the environment)."""

import reflex as rx

from hms_app.settings import get_settings

settings = get_settings()

config = rx.Config(
    app_name="hms_app",
    db_url=settings.database_url,
    # Setting REDIS_URL switches Reflex to its Redis state manager and several workers. Without it
    # the one worker keeps tab states in memory: Reflex's default (disk) pickles every changed tab
    # and lists its whole states folder as it goes, which costs more than the boards themselves.
    # A restart only makes open tabs load their page again; the sign-in lives in a cookie.
    redis_url=settings.redis_url,
    **({} if settings.redis_url else {"state_manager_mode": rx.constants.StateManagerMode.MEMORY}),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=settings.port,
    backend_port=settings.port,
    # A sitemap would advertise staff pages to crawlers; HMS has nothing to index.
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="inherit", accent_color="teal", gray_color="slate", radius="medium")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
    # Reflex's default ("*" with credentials) answers any page on any origin with the staff
    # member's cookie; only the public URL's origin is let in (hms_app/edge/origins.py refuses
    # the rest before Reflex sees them).
    cors_allowed_origins=settings.allowed_origins,
    # The pages' Content-Security-Policy hashes their inline scripts from the bytes served:
    # hms_app/edge/headers.py reads gzip, so the build pre-compresses to gzip only.
    frontend_compression_formats=["gzip"],
    # The client address that sign-up limits count (router.session.client_ip): the peer's, or behind
    # HMS_TRUSTED_PROXY_HOPS proxies the X-Forwarded-For entry that many places from the right.
    trusted_proxy_hops=settings.trusted_proxy_hops,
)
