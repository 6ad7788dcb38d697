"""Reading SAP exports, spreadsheets and pasted rows into records; address parsing."""
