"""Plugins: packages adding executors, notifiers, result serializers and UI pages.

``discovery`` finds and loads the entry points of one group (nothing is read at
``import pauta``: a group is loaded the first time something asks for it) and records a plugin
that fails to load with its error instead of raising; ``catalog`` lists every group for
``pauta plugins list``.
"""
