"""Twilio's REST API: calls, texts, deleting inbound messages and media; setting up the number."""
