"""The inspector app's strings for signed receipts (docs/receipts.md).

English is the source; translations are in server/translations/ (docs/i18n.md)."""
from ..registry import _m, _mp  # noqa: F401

_m("app_receipt", "Receipt")
_m("app_receipt_note", "The server's signed receipt: what it received and when. Keep it; anyone can check it with the server's public key.")
_m("app_receipt_save", "Save the receipt")
