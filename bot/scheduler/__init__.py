"""The clock process: APScheduler with a database job store, jobs as plain functions."""
