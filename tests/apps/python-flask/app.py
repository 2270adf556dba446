"""The python-flask sample: a Flask app served by gunicorn, built by the python buildpack."""

from flask import Flask

app = Flask(__name__)
GREETING = "Hello from python-flask"


@app.get("/")
def index() -> str:
    return GREETING + "\n"
