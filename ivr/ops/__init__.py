"""Running it: the process manager behind `helpline run`, logs, metrics, the sign-in hashing
pool, the secret key, settings checks."""
