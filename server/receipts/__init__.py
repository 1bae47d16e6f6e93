"""Signed receipts: proof, kept by the inspector, of what the server received and when."""
