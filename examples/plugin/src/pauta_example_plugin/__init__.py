"""An example pauta plugin: the ``jsonl`` notifier and the ``example`` UI page."""
