"""Interface names for fixed content categories (the content itself stays as written)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

DOMAIN_LABELS = {
    "party": _l("Party affairs"),
    "village": _l("Village affairs"),
    "finance": _l("Village finances"),
    "government": _l("Government affairs"),
}
CONTACT_KIND_LABELS = {
    "supervision": _l("Supervision"),
    "hotline": _l("Hotlines"),
    "office": _l("Offices"),
}
KIND_LABELS = {
    "power": _l("Small-power item"),
    "notice": _l("Notice"),
    "catalogue": _l("Disclosure catalogue"),
    "ten_ones": _l("Ten ones"),
}
