"""One module per remediable kind, each defining ``APPLIER`` (an ``interface.Applier``).

interface.py is the contract, registry.py finds the appliers; neither the contract nor
any applier imports the engine, and a new kind is one more module here.
"""
