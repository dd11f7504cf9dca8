"""The Caddy edge: its processes, configs, routes and the switch between upstreams."""
