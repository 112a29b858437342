"""The languages a helpline may speak (issue 14): English always, Welsh where its content is
switched on. Codes as Twilio, Polly and the callback records write them."""

from __future__ import annotations

ENGLISH, WELSH = "en", "cy"
LANGUAGES = (ENGLISH, WELSH)
