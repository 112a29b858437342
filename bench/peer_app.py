"""The peer: the first route of Twilio's own sample IVR phone tree in Python/Flask, served like
the floor and our app (same gunicorn.conf.py, same run), to say how far our /voice is from
what Twilio itself shows people to write.

Where it comes from: TwilioDevEd/ivr-phone-tree-python, ivr_phone_tree_python/views.py,
`welcome()` at POST /ivr/welcome (https://github.com/TwilioDevEd/ivr-phone-tree-python,
the code of Twilio's "IVR Phone Tree" tutorial for Python and Flask, which its README links:
https://www.twilio.com/docs/tutorials/walkthrough/ivr-phone-tree/python/flask; read at
commit 1d5d57f6). Its route builds
a VoiceResponse on every call: a <Gather> of one digit posting to the menu's URL (url_for),
holding a <Play> looped 3 times, returned as text/xml by its `twiml()` helper. It checks no
signature, writes no log line and keeps no metrics.

Written here to do the same work, not copied: mounted at /voice (the sample's /ivr/welcome)
so the same wrk script drives the floor, the peer and our app.
"""

from flask import Flask, Response, url_for
from twilio.twiml.voice_response import VoiceResponse

app = Flask(__name__)
GREETING_AUDIO = "https://example.org/greeting.mp3"  # the sample plays a hosted MP3


@app.route("/voice", methods=["POST"])
def welcome() -> Response:
    response = VoiceResponse()
    with response.gather(num_digits=1, action=url_for("menu"), method="POST") as gather:
        gather.play(url=GREETING_AUDIO, loop=3)
    return Response(str(response), content_type="text/xml")


@app.route("/ivr/menu", methods=["POST"])
def menu() -> Response:
    """Only here so url_for("menu") resolves, as in the sample; never requested."""
    return Response(str(VoiceResponse()), content_type="text/xml")
