"""WSGI entry point for other servers: ``gunicorn 'herald.web.wsgi:app'``. ``herald web``
serves the same app with gunicorn (``herald.web.serve``)."""

from herald.web.app import create_app
from herald.web.security import hide_gunicorn_banner

hide_gunicorn_banner()
app = create_app()
