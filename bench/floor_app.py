"""The floor: a bare Flask app returning one constant TwiML document, served with the same
gunicorn settings as the real app, so our webhooks are measured as a ratio to it."""

from flask import Flask, Response

app = Flask(__name__)
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="Polly.Amy" '
    'language="en-GB">If you are in immediate danger, hang up now and dial 9 9 9.</Say>'
    "</Response>"
)


@app.route("/voice", methods=["POST"])
def constant() -> Response:
    return Response(TWIML, mimetype="text/xml")
