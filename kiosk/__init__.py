"""The village kiosk and the county server that feeds it; docs/architecture.md maps the packages.

- ``kiosk.screens``: the villager screens; ``kiosk.staff``: the village staff console;
  ``kiosk.county``: the county server; ``kiosk.device``: the kiosk's background jobs;
  ``kiosk.data``: the kiosk's two databases and the rules over them; ``kiosk.cli``: the commands.
"""
