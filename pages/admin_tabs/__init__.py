"""The admin page's tabs, one module each; ``pages/admin.py`` checks the role and lays them out.

Each module has ``render(admin)``; the queries live in ``core.admin`` and ``core.support``.
"""
