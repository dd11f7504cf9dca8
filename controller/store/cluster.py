"""Tables of several instances on one database: one lease row per instance (its heartbeat and
the address its API listens on), named leases that one instance holds at a time (the
scheduler's leader), and the edge's route overrides every instance applies."""

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
    # host:port of its `fogbank serve`: the edge balances the API over the instances' addresses.
    api_address = fields.CharField(max_length=300, default="")

    class Meta:
        table = "instance"


class Lease(models.Model):
    """A named lease (`upkeep`: who runs the scheduled jobs), moved by compare-and-set."""

    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=128)
    lease_until = fields.DatetimeField()

    class Meta:
        table = "lease"


class EdgeOverride(models.Model):
    """Where an app's traffic goes instead of its active deployment: the candidate a deployment
    is switching to, or the ports of an app's Swarm tasks. Kept here, not in one process, so an
    instance applying the edge's routes never undoes another instance's switch."""

    app_id = fields.IntField(primary_key=True)
    ports = fields.CharField(max_length=400)  # "port,port,...": the first is the main upstream
    instance = fields.CharField(max_length=128)  # who set it: dropped when that instance dies

    class Meta:
        table = "edge_override"
