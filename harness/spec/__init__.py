"""Workload and suite specifications: frozen models and the loader that checks them."""
