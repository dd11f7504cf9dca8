"""Tables of several instances on one database: one lease row per instance (its heartbeat) and
named leases that one instance holds at a time (the scheduler's leader)."""

from __future__ import annotations

from tortoise import fields, models


class Instance(models.Model):
    """One fogbank instance: alive while `lease_until` lies ahead; `token` tells the process
    that holds the name now from an earlier one of the same name."""

    name = fields.CharField(max_length=128, primary_key=True)
    token = fields.CharField(max_length=32)
    started_at = fields.DatetimeField()
    heartbeat_at = fields.DatetimeField()
    lease_until = fields.DatetimeField()

    class Meta:
        table = "instance"


class Lease(models.Model):
    """A named lease (`upkeep`: who runs the scheduled jobs), moved by compare-and-set."""

    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=128)
    lease_until = fields.DatetimeField()

    class Meta:
        table = "lease"
