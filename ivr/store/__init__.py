"""The only code that knows Redis (every key name in keys.py, Lua scripts beside the methods
that run them), and the files kept on disk (the text spool)."""
