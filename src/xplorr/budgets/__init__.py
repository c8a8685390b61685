"""Budgets: spend limits per month, quarter or year, with forecasts and threshold alerts."""
