"""The worker process (``python -m jobs.worker``); importable without Streamlit."""
