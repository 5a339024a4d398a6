"""The sample council shipped with PerfBot."""
