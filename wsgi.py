"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi adal ...`."""
from server import create_app

app = create_app()
