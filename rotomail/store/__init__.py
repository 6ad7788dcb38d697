"""The database: engine and migrations, tables, catalog, customer master, ledger, history."""
