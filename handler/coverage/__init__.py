"""Coverage: the member heartbeats the forwarder records, and the watchdog that reads them."""
