"""Templating: rendering in the Jinja2 sandbox and signing tracking links.

It sits below channels and campaigns (they import it) and imports nothing of Herald but core.
"""
