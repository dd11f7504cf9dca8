"""Reporting back: GitHub commit statuses and deployments, and notifications (webhook, Slack,
Discord, email), all sent from one durable outbox by a delivery loop the controller owns."""
