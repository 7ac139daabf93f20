"""One masking policy for personal data (mobiles, landlines, e-mails, addresses), in every service and export.

Who sees personal data unmasked: the staff of the organizer the data belongs to, and the data's owner (the
unit, the recommending unit, the judge). Everyone else, the national association and auditors included, sees
it masked, and the answer says `masked: true`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.authorization import Caller

EMAIL_KEYS = frozenset({"email", "e_mail", "contact_email"})
PHONE_KEYS = frozenset({"mobile", "phone", "landline", "telephone", "fax", "contact", "contact_phone",
                        "filler_phone", "contact_mobile"})
ADDRESS_KEYS = frozenset({"address", "postal_address", "mailing_address"})
PERSONAL_KEYS = EMAIL_KEYS | PHONE_KEYS | ADDRESS_KEYS


def mask_value(key: str, value: str) -> str:
    """One personal value, masked by its kind: e-mails keep their first letter and domain, numbers their
    first 3 and last 4 digits, addresses their first 6 characters."""
    if not value:
        return value
    if key in EMAIL_KEYS or ("@" in value and key not in ADDRESS_KEYS):
        name, _, domain = value.partition("@")
        return name[:1] + "***@" + domain
    if key in ADDRESS_KEYS:
        return value[:6] + "****" if len(value) > 6 else "****"
    return value[:3] + "****" + value[-4:] if len(value) > 7 else "****"


def masked(value: Any, key: str | None = None) -> Any:
    """The value with every personal field masked, at any depth."""
    if isinstance(value, Mapping):
        return {name: masked(item, name) for name, item in value.items()}
    if isinstance(value, list):
        # a list under a personal key (several phones) is personal too; a list of records masks by their keys
        return [masked(item, key) for item in value]
    if key in PERSONAL_KEYS and isinstance(value, str):
        return mask_value(key, value)
    return value


def sees_unmasked(caller: Caller | None, document: Mapping[str, Any]) -> bool:
    """The organizer's staff and the data's owner see it as it was given."""
    return caller is not None and (caller.staff_of(document) or caller.owns(document))


def for_caller(caller: Caller | None, document: Mapping[str, Any]) -> dict[str, Any]:
    """The document as this caller may see it: as given, or masked and marked so."""
    if sees_unmasked(caller, document):
        return dict(document)
    return masked(document) | {"masked": True}
