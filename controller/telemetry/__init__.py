"""What fogbank tells its operators about itself: Prometheus metrics and the process log."""
