"""The Sidekick Django project: settings, ASGI routing and URLs."""
