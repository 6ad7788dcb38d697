"""The ledger's values as a user sees them: amounts, signs, decimal separators and dates.

The contract of ``rotomail/inputs/parsers.py``'s value readers (issue 23), as tables of
inputs and what the ledger import makes of them.
"""
