"""The statement of account: its data, labels and formats, and the PDF."""
