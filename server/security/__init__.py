"""Trusting CDS clients: JWT verification (CDS Hooks 2.0 §Trusting CDS Clients)."""
