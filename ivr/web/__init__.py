"""The Flask app: Twilio's webhooks (voice, callbacks, outbound, sms), the advisors' console,
health; TwiML helpers; signatures and request limits."""
