"""CalcJobs, one per program."""
