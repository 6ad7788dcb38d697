"""Sending: the run, claims, rendering workers, e-mails, transports, secrets, run log."""
