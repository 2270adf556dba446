"""The python-bad-requirements sample: a Flask app whose requirements cannot install."""

from flask import Flask

app = Flask(__name__)
GREETING = "Hello from python-bad-requirements"


@app.get("/")
def index() -> str:
    return GREETING + "\n"
