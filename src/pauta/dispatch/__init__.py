"""Dispatch: which ready task starts now, and what capacity this worker has.

``queue`` is the pure packing core (ordering, resources, pools, limits, backfilling with a
reservation); ``capacity`` detects or parses what a worker has. See ``docs/dispatch.md``.
"""
