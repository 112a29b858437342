"""The rules, as plain functions on plain data with the clock passed in: opening hours, the
call tree, safe times, promises, expiry, who may claim a callback, numbers. Imports neither
Flask, Redis nor Twilio (tests/test_layers.py checks)."""
