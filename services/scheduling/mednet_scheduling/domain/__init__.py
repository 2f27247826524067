"""Scheduling's rules: slot search (slots), its own state (state) and the call lifecycle (calls)."""

from .slots import (
    GRID,
    Booking,
    Calendar,
    Hours,
    MediatorAvailability,
    NoSlot,
    Slot,
    SlotRequest,
    find_slot,
    holiday_country_of_zone,
    violations,
)

__all__ = ["GRID", "Booking", "Calendar", "Hours", "MediatorAvailability", "NoSlot", "Slot", "SlotRequest",
           "find_slot", "holiday_country_of_zone", "violations"]
