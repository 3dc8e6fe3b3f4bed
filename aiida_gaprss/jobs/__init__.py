"""Entry points of the Python jobs run by CalcJobs (``python -m aiida_gaprss.jobs.<task>``)."""
