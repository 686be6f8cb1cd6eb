"""WSGI entry point for gunicorn: ``gunicorn 'herald.web.wsgi:app'``."""

from herald.web.app import create_app
from herald.web.security import hide_gunicorn_banner

hide_gunicorn_banner()
app = create_app()
