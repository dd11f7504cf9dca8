"""Several fogbank instances on one database: instance leases, takeover of a dead instance's
work, and the one leader that runs the scheduled jobs."""
