"""Operations for admins: audited actions (``actions``), the audit log (``auditlog``) and metrics queries
(``metrics``). No Streamlit here; ``pages/admin.py`` and its tabs call these."""
