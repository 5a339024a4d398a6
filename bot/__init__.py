"""PerfBot's Teams side: the aiohttp app, the bot handler, settings and the command line."""
