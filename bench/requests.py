"""Signed Twilio-like requests, precomputed, written as a Lua table that wrk replays.

wrk can't compute HMAC signatures itself, and every new-callback text must come from a new
number, so the requests are made here (signed exactly as Twilio signs) and wrk cycles them.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

TOKEN = "0123456789abcdef0123456789abcdef"
ACCOUNT = "AC" + "0" * 32


def mobile(i: int) -> str:
    """A distinct, valid UK mobile number for each i (07400 1xxxxx)."""
    return f"+4474001{i:05d}"


def signed(base: str, path: str, params: dict[str, str]) -> dict[str, str]:
    signature = RequestValidator(TOKEN).compute_signature(base + path, params)
    return {"path": path, "body": urlencode(params), "sig": signature}


def voice_call(base: str, i: int) -> dict[str, str]:
    return signed(
        base,
        "/voice",
        {
            "CallSid": f"CA{i:032x}",
            "AccountSid": ACCOUNT,
            "From": mobile(i),
            "To": "+441234567890",
            "CallStatus": "ringing",
        },
    )


def voice_menu(base: str, i: int, digits: str = "2") -> dict[str, str]:
    return signed(
        base,
        "/voice/choice?menu=closed&tries=0",
        {
            "CallSid": f"CA{i:032x}",
            "AccountSid": ACCOUNT,
            "From": mobile(i),
            "To": "+441234567890",
            "CallStatus": "in-progress",
            "Digits": digits,
        },
    )


def text(base: str, i: int, number: int, body: str = "hello") -> dict[str, str]:
    return signed(
        base,
        "/sms",
        {
            "MessageSid": f"SM{i:032x}",
            "AccountSid": ACCOUNT,
            "From": mobile(number),
            "To": "+441234567890",
            "Body": body,
            "NumMedia": "0",
        },
    )


def write_lua(requests: list[dict[str, str]], path: Path, delay_ms: float = 0) -> None:
    """A wrk script replaying `requests` in order (each thread from its own offset), checking
    every answer is a 200 with TwiML, optionally pausing `delay_ms` between requests on each
    connection (a constant rate)."""
    table = ",\n".join(
        "{" + f"path={json.dumps(r['path'])},body={json.dumps(r['body'])},"
        f"sig={json.dumps(r['sig'])}" + "}"
        for r in requests
    )
    path.write_text(LUA.replace("__REQUESTS__", table).replace("__DELAY__", str(delay_ms)))


LUA = r"""
local requests = {
__REQUESTS__
}
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  index = id * 7919 % #requests
  bad_status, bad_body, answered = 0, 0, 0
end

function request()
  index = index % #requests + 1
  local r = requests[index]
  return wrk.format("POST", r.path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = r.sig }, r.body)
end

function delay()
  return __DELAY__
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then bad_status = bad_status + 1 end
  if not string.find(body, "<Response", 1, true) then bad_body = bad_body + 1 end
end

function done(summary, latency, requests)
  local totals = {answered = 0, bad_status = 0, bad_body = 0}
  for _, t in ipairs(threads) do
    totals.answered = totals.answered + t:get("answered")
    totals.bad_status = totals.bad_status + t:get("bad_status")
    totals.bad_body = totals.bad_body + t:get("bad_body")
  end
  io.write(string.format(
    "RESULT {\"rps\": %.1f, \"p50_ms\": %.2f, \"p99_ms\": %.2f, \"answered\": %d, " ..
    "\"bad_status\": %d, \"bad_body\": %d, \"errors\": %d, \"timeouts\": %d}\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, totals.answered, totals.bad_status, totals.bad_body,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status,
    summary.errors.timeout))
end
"""
