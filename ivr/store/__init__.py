"""The only code that knows Redis (every key name in keys.py, Lua scripts beside the methods
that run them), and the files kept on disk (the text spool). Callers catch `Unavailable`,
never a Redis error by name."""

from redis import RedisError as Unavailable

__all__ = ["Unavailable"]
