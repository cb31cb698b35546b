"""The suppression list: addresses no digest may reach, kept as hashes.

Unsubscribes, hard bounces, repeated soft bounces and complaints land here. Only a SHA-256
of the normalized address is stored, so the list survives a reader deleting their data
without keeping their address. The hash is deliberately not keyed with SECRET_KEY: a
rotated key must never quietly empty the list and mail people who asked us to stop.
"""

import hashlib
from collections.abc import Iterable

from newsletter.models import Suppression, SuppressionReason, normalize_email


def address_hash(address: str) -> str:
    return hashlib.sha256(normalize_email(address).encode()).hexdigest()


def suppress(address: str, reason: str) -> bool:
    """Add `address`; False when it was already on the list (the first reason stays)."""
    _, created = Suppression.objects.get_or_create(
        address_hash=address_hash(address), defaults={"reason": reason}
    )
    return created


def is_suppressed(address: str) -> bool:
    return Suppression.objects.filter(address_hash=address_hash(address)).exists()


def reason_for(address: str) -> str | None:
    """Why the address is on the list (the first reason recorded), or None."""
    found = Suppression.objects.filter(address_hash=address_hash(address))
    return found.values_list("reason", flat=True).first()


def suppressed_among(addresses: Iterable[str]) -> set[str]:
    """The addresses of `addresses` that are suppressed, in one query."""
    by_hash = {address_hash(address): address for address in addresses}
    found = Suppression.objects.filter(address_hash__in=list(by_hash))
    return {by_hash[h] for h in found.values_list("address_hash", flat=True)}


def lift_unsubscribe(address: str) -> int:
    """Forget an unsubscribe (the reader confirmed a new subscription themselves); bounces
    and complaints stay. The count removed."""
    lifted = Suppression.objects.filter(
        address_hash=address_hash(address), reason=SuppressionReason.UNSUBSCRIBED
    )
    deleted, _ = lifted.delete()
    return deleted
