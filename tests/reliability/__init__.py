"""Reliability tests: bad input refused, archives that reproduce, crash recovery through the daemon (issue 9)."""
