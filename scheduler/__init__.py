"""The timetable of PerfBot's scheduled jobs."""
