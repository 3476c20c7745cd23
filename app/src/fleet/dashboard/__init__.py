"""Streamlit dashboard: entry script ``app.py``, pages in ``views/``, pure logic beside them.

Only ``app.py``, ``state.py`` and ``views/`` import Streamlit; the other modules are plain
Python, shared with ``fleet bench-dashboard`` and unit-tested without a browser.
"""
