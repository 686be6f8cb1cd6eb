"""WSGI entry point for gunicorn: ``gunicorn 'herald.web.wsgi:app'``."""

from herald.web.app import create_app

app = create_app()
