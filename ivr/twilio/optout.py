"""Who answers STOP, START and HELP on the helpline's number: Twilio's default handling, or
a Messaging Service's Advanced Opt-Out (for `helpline twilio verify`, which reads the number's
configuration and warns; `helpline check` stays offline).

On a long code Twilio answers STOP, START and HELP with its own standard replies and passes
the text on to the webhook (help.twilio.com, "Twilio support for opt-out keywords (SMS STOP
filtering)"); the app answers HELP too, so the person gets two replies, Twilio's generic one
first. A Messaging Service with Advanced Opt-Out lets the helpline set its own HELP reply
(https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out), and then the webhook says
Twilio answered (OptOutType=HELP) and the app stays quiet (web/sms.py). Twilio Support can
also turn default keyword handling off for a number: then the app's HELP is the only one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OptOutConfig:
    """What is known of the number's keyword handling. `messaging_service_sid`: the
    Messaging Service the number is a sender of ("" when none); `advanced_opt_out`: whether
    that service has Advanced Opt-Out on (None: not known: Twilio's REST API does not show
    it, so verify lists it for a live check); `default_handling_off`: staff say Twilio
    Support turned default keyword handling off for the number."""

    messaging_service_sid: str = ""
    advanced_opt_out: bool | None = None
    default_handling_off: bool = False


def uses_default_opt_out(number_config: OptOutConfig) -> bool:
    """Whether Twilio answers STOP/START/HELP on this number with its default replies (HELP
    then gets two replies: Twilio's generic one and ours). False when a Messaging Service's
    Advanced Opt-Out answers instead (or may: unknown counts as not default, and is listed
    for a live check), or when default handling was turned off."""
    if number_config.default_handling_off:
        return False
    in_service = bool(number_config.messaging_service_sid)
    return not in_service or number_config.advanced_opt_out is False
