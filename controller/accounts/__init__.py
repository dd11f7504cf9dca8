"""Users, sessions, API tokens and the login limiter."""
