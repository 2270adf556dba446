"""The python-uv sample: Flask from a uv.lock, served by gunicorn."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "Hello from python-uv\n"
