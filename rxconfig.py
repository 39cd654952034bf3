"""Reflex configuration. Every value comes from hms_app.settings (the environment)."""

import reflex as rx

from hms_app.settings import get_settings

settings = get_settings()

config = rx.Config(
    app_name="hms_app",
    db_url=settings.database_url,
    # Setting REDIS_URL switches Reflex to its Redis state manager and several workers.
    redis_url=settings.redis_url,
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
)
