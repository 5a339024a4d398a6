"""PerfBot in Teams: the activity handler, the typed commands and the card actions."""
