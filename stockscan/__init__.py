"""stockscan: a stock scanner for swing traders, every run a tracked job in SQLite."""

__version__ = "0.1.0"
