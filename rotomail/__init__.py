"""rotomail: e-mail account statements to customers from a terminal or cron."""

__version__ = "0.1.0"
